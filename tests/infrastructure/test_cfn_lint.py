"""cfn-lint on the synthesized template: no errors, and no warnings but the ones CDK always makes."""

from __future__ import annotations

import json

from cfnlint.api import ManualArgs, lint

# Warnings CDK produces on every stack; each with the reason it is harmless.
ACCEPTED_WARNINGS = {
    # CDK makes a function depend on its role (and the role's default policy) explicitly,
    # besides the GetAtt of the role: the dependency is stated twice, never missing.
    "W3005": "redundant DependsOn next to a GetAtt",
}
REGIONS = ["us-east-1", "eu-west-1"]


def test_the_template_passes_cfn_lint(synthesized):
    # Given the synthesized template
    template = json.dumps(synthesized.template.to_json())
    # When cfn-lint checks it for two regions
    matches = lint(template, config=ManualArgs(regions=REGIONS))
    # Then there is no error, and no warning but the accepted ones
    findings = [
        f"{m.rule.id} ({m.rule.severity}) {'/'.join(map(str, m.path))}: {m.message}"
        for m in matches
        if not (m.rule.severity == "warning" and m.rule.id in ACCEPTED_WARNINGS)
    ]
    assert findings == []
