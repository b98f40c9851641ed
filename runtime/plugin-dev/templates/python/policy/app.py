"""{{name}}: {{description}}

A Sluice policy plugin. Sluice calls `evaluate` with every rendered manifest
(as JSON) and the config from the policy entry; it answers a verdict and
diagnostics, each naming the object and the field to fix. This one denies
objects that lack the labels the config asks for.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world.imports import log, types

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "{{name}} policy",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "labels": {
            "description": "Labels every object must carry in metadata.labels",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
        },
        "kinds": {
            "description": "Only objects of these kinds are checked (default: all)",
            "type": "array",
            "items": {"type": "string"},
        },
    },
}

DEFAULT_LABELS = ["app.kubernetes.io/name"]


class WitWorld(wit_world.WitWorld):
    def metadata(self):
        return types.PluginMetadata(
            name="{{name}}",
            version="{{version}}",
            kind=types.PluginKind.POLICY,
            description="{{description}}",
        )

    def config_schema(self):
        return json.dumps(SCHEMA)

    def evaluate(self, request):
        config = json.loads(request.config)
        labels = config.get("labels", DEFAULT_LABELS)
        kinds = config.get("kinds")
        findings = []
        for manifest in request.manifests:
            try:
                obj = json.loads(manifest.json)
            except ValueError as e:
                raise Err([diagnostic(None, manifest.origin, None, "invalid-manifest",
                                      f"manifest is not JSON: {e}")])
            if kinds is None or obj.get("kind") in kinds:
                findings.extend(check(obj, manifest.origin, labels))
        log.log(log.Level.DEBUG, f"{len(request.manifests)} manifests, {len(findings)} findings")
        verdict = types.Verdict.DENY if findings else types.Verdict.ALLOW
        return wit_world.Evaluation(verdict=verdict, diagnostics=findings, mutated=None)


def check(obj, origin, labels):
    meta = obj.get("metadata") or {}
    present = meta.get("labels") or {}
    ref = types.ResourceRef(
        api_version=obj.get("apiVersion", ""),
        kind=obj.get("kind", ""),
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
    )
    return [
        diagnostic(ref, origin, "metadata.labels", "missing-label",
                   f"{ref.kind} '{ref.name}' has no label '{label}'; add it under metadata.labels")
        for label in labels
        if label not in present
    ]


def diagnostic(ref, origin, field, code, message):
    return types.Diagnostic(
        severity=types.Severity.ERROR,
        message=message,
        resource=ref,
        field_path=field,
        location=origin,
        code=code,
    )
