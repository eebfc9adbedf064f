"""The role GitHub Actions deploys with: trusted through GitHub's OIDC provider by one repository's
one branch, and allowed nothing but to assume the CDK bootstrap roles (which do the deploying) of
the regions the app's stacks are deployed to."""

from aws_cdk import Aws, CfnOutput, Duration
from aws_cdk import aws_iam as iam
from constructs import Construct

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
STS_AUDIENCE = "sts.amazonaws.com"
BOOTSTRAP_ROLES = ("deploy", "file-publishing", "image-publishing", "lookup")
DEPLOY_SESSION_HOURS = 2
"""The longest session the workflow may ask for: its deploy job runs up to 90 minutes (a stack that
adds table replicas), and the CLI refreshes the bootstrap roles' chained sessions from this one."""
"""The roles ``cdk bootstrap`` creates; ``cdk deploy`` assumes them and nothing else."""


def github_subject(repository: str, branch: str) -> str:
    """The ``sub`` claim of a GitHub Actions token for a push to ``branch`` of ``repository``."""
    return f"repo:{repository}:ref:refs/heads/{branch}"


def bootstrap_role_arn(qualifier: str, role: str, region: str) -> str:
    """The ARN of one role ``cdk bootstrap`` made in ``region`` (named, never a region wildcard)."""
    name = f"cdk-{qualifier}-{role}-role-{Aws.ACCOUNT_ID}-{region}"
    return f"arn:{Aws.PARTITION}:iam::{Aws.ACCOUNT_ID}:role/{name}"


class GitHubDeployRole(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        repository: str,
        branch: str,
        qualifier: str,
        provider_arn: str | None,
        regions: tuple[str, ...] = (),
    ) -> None:
        """``regions``: where the app's other stacks go (the home region, a read region); the
        bootstrap roles of this stack's own region are always allowed, and of those regions too."""
        super().__init__(scope, id)
        self.provider: iam.IOidcProvider = (
            iam.OidcProviderNative.from_oidc_provider_arn(self, "GitHubOidc", provider_arn)
            if provider_arn
            else iam.OidcProviderNative(
                self, "GitHubOidc", url=f"https://{GITHUB_OIDC_HOST}", client_ids=[STS_AUDIENCE]
            )
        )
        self.role = iam.Role(
            self,
            "Role",
            description=f"GitHub Actions deploys {repository}@{branch} with cdk deploy",
            max_session_duration=Duration.hours(DEPLOY_SESSION_HOURS),
            assumed_by=iam.WebIdentityPrincipal(
                self.provider.oidc_provider_arn,
                conditions={
                    "StringEquals": {
                        f"{GITHUB_OIDC_HOST}:aud": STS_AUDIENCE,
                        f"{GITHUB_OIDC_HOST}:sub": github_subject(repository, branch),
                    }
                },
            ),
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["sts:AssumeRole"],
                resources=[
                    bootstrap_role_arn(qualifier, role, region)
                    for region in (Aws.REGION, *dict.fromkeys(regions))
                    for role in BOOTSTRAP_ROLES
                ],
            )
        )
        CfnOutput(self, "RoleArn", value=self.role.role_arn, description="MERCATO_DEPLOY_ROLE_ARN")
