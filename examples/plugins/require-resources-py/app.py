"""require-resources: a Sluice policy plugin written in Python.

Every container of every workload must declare resource requests and limits
(CPU and memory by default), and limits may not exceed configured ceilings.
Built with `sluice plugin build` (componentize-py, world `policy`).
"""

import json
import re

import wit_world
from componentize_py_types import Err
from wit_world.imports import log, types

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "require-resources policy",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "resources": {
            "description": "Resource names every container must set (default cpu and memory)",
            "type": "array",
            "items": {"type": "string", "minLength": 1},
        },
        "require": {
            "description": "Which of requests and limits must be set (default both)",
            "type": "array",
            "items": {"enum": ["requests", "limits"]},
        },
        "maxLimits": {
            "description": "Ceilings for limits, as Kubernetes quantities, e.g. {\"memory\": \"2Gi\", \"cpu\": \"4\"}",
            "type": "object",
            "additionalProperties": {"type": "string", "pattern": "^[0-9.]+([eE][0-9]+|[numkKMGTPE]i?)?$"},
        },
    },
}

POD_SPECS = {
    "Pod": ("spec", ["spec"]),
    "Deployment": ("spec.template.spec", ["spec", "template", "spec"]),
    "StatefulSet": ("spec.template.spec", ["spec", "template", "spec"]),
    "DaemonSet": ("spec.template.spec", ["spec", "template", "spec"]),
    "ReplicaSet": ("spec.template.spec", ["spec", "template", "spec"]),
    "Job": ("spec.template.spec", ["spec", "template", "spec"]),
    "CronJob": ("spec.jobTemplate.spec.template.spec", ["spec", "jobTemplate", "spec", "template", "spec"]),
}

SUFFIX = {
    "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1.0,
    "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
QUANTITY = re.compile(r"^([0-9.]+)(?:[eE]([0-9]+)|([numkKMGTPE]i?))?$")


def quantity(text):
    """A Kubernetes quantity ("500m", "2Gi", "1e3") as a float, or None."""
    m = QUANTITY.match(str(text).strip())
    if not m:
        return None
    try:
        value = float(m.group(1))
    except ValueError:  # "1.2.3": digits and dots, but not a number
        return None
    if m.group(2):
        return value * 10 ** int(m.group(2))
    suffix = m.group(3) or ""
    return value * SUFFIX[suffix] if suffix in SUFFIX else None


def dig(obj, path):
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


class WitWorld(wit_world.WitWorld):
    def metadata(self):
        return types.PluginMetadata(
            name="require-resources",
            version="0.1.0",
            kind=types.PluginKind.POLICY,
            description="Containers must set resource requests and limits, within ceilings (Python)",
        )

    def config_schema(self):
        return json.dumps(SCHEMA)

    def evaluate(self, request):
        config = json.loads(request.config)
        names = config.get("resources", ["cpu", "memory"])
        required = config.get("require", ["requests", "limits"])
        ceilings = {k: (v, quantity(v)) for k, v in config.get("maxLimits", {}).items()}
        findings = []
        for manifest in request.manifests:
            try:
                obj = json.loads(manifest.json)
            except ValueError as e:
                raise Err([error(None, None, None, "invalid-manifest", f"manifest is not JSON: {e}")])
            findings.extend(check(obj, manifest.origin, names, required, ceilings))
        log.log(log.Level.DEBUG, f"{len(request.manifests)} manifests, {len(findings)} findings")
        verdict = types.Verdict.DENY if findings else types.Verdict.ALLOW
        return wit_world.Evaluation(verdict=verdict, diagnostics=findings, mutated=None)


def check(obj, origin, names, required, ceilings):
    kind = obj.get("kind", "")
    if kind not in POD_SPECS:
        return []
    meta = obj.get("metadata") or {}
    ref = types.ResourceRef(
        api_version=obj.get("apiVersion", ""),
        kind=kind,
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
    )
    base, path = POD_SPECS[kind]
    pod = dig(obj, path) or {}
    out = []
    for group in ("initContainers", "containers"):
        for i, c in enumerate(pod.get(group) or []):
            at = f"{base}.{group}[{i}].resources"
            name = c.get("name", "?")
            res = c.get("resources") or {}
            for section in required:
                for r in names:
                    if r not in (res.get(section) or {}):
                        out.append(error(ref, origin, f"{at}.{section}.{r}", f"missing-{section}",
                                         f"container '{name}' sets no {r} {section[:-1]}; add {at}.{section}.{r}"))
            for r, (text, ceiling) in ceilings.items():
                value = (res.get("limits") or {}).get(r)
                if value is not None and ceiling is not None and (quantity(value) or 0) > ceiling:
                    out.append(error(ref, origin, f"{at}.limits.{r}", "limit-too-high",
                                     f"container '{name}' asks for a {r} limit of {value}, above the ceiling of {text}"))
    return out


def error(ref, origin, field, code, message):
    return types.Diagnostic(
        severity=types.Severity.ERROR,
        message=message,
        resource=ref,
        field_path=field,
        location=origin,
        code=code,
    )
