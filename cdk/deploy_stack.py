"""Stack ``MercatoDeploy``: what the deploy-on-push workflow needs in the account, kept apart from
the exchange so that the exchange's stack never holds IAM trust for CI."""

from aws_cdk import Stack
from constructs import Construct

from cdk.capabilities.deploy_role import GitHubDeployRole
from cdk.settings import DeploySettings


class DeployStack(Stack):
    def __init__(self, scope: Construct, id: str, *, settings: DeploySettings, repository: str) -> None:
        super().__init__(scope, id)
        self.deploy_role = GitHubDeployRole(
            self,
            "GitHubDeploy",
            repository=repository,
            branch=settings.github_branch,
            qualifier=settings.cdk_qualifier,
            provider_arn=settings.github_oidc_provider_arn,
            # `cdk deploy --all` assumes the bootstrap roles of each stack's region
            regions=tuple(r for r in (settings.region, settings.read_region) if r is not None),
        )
