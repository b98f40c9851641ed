"""{{name}}: {{description}}

A Sluice renderer plugin. Sluice preopens the artifact (the fetched source
tree) read-only at /artifact and calls `render` with the Release's path and
config; the plugin answers manifests (JSON, each with the file it came from)
in a deterministic order. This one turns every file below the path into a
ConfigMap holding that file.
"""

import json
import os
import re

import wit_world
from componentize_py_types import Err
from wit_world.imports import log, types

ROOT = "/artifact"

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "{{name}} renderer",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "namePrefix": {
            "description": "Prefix of every ConfigMap name",
            "type": "string",
            "pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?-?$",
        },
        "namespace": {
            "description": "Namespace of every ConfigMap (default: the Release's)",
            "type": "string",
        },
    },
}


class WitWorld(wit_world.WitWorld):
    def metadata(self):
        return types.PluginMetadata(
            name="{{name}}",
            version="{{version}}",
            kind=types.PluginKind.RENDERER,
            description="{{description}}",
        )

    def config_schema(self):
        return json.dumps(SCHEMA)

    def render(self, request):
        config = json.loads(request.config)
        prefix = config.get("namePrefix", "")
        base = os.path.normpath(os.path.join(ROOT, request.path))
        if base != ROOT and not base.startswith(ROOT + "/"):
            raise Err([failure(f"path '{request.path}' leaves the artifact")])
        if not os.path.isdir(base):
            raise Err([failure(f"path '{request.path}' is not a directory in the artifact")])
        paths = []
        for directory, dirs, files in os.walk(base):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            paths.extend(os.path.join(directory, f) for f in files if not f.startswith("."))
        manifests, notes = [], []
        for full in sorted(paths):
            rel = os.path.relpath(full, ROOT)
            try:
                with open(full, encoding="utf-8") as f:
                    text = f.read()
            except UnicodeDecodeError:
                notes.append(note(rel, f"{rel} is not UTF-8 text; skipped"))
                continue
            meta = {"name": prefix + dns_name(os.path.relpath(full, base))}
            if "namespace" in config:
                meta["namespace"] = config["namespace"]
            data = {os.path.basename(full): text}
            obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
            origin = types.SourceLocation(file=rel, line=1, column=1)
            manifests.append(types.Manifest(json=json.dumps(obj), origin=origin))
        log.log(log.Level.DEBUG, f"{len(manifests)} ConfigMaps from {request.path}")
        return wit_world.RenderResult(manifests=manifests, diagnostics=notes)


def dns_name(path):
    """A file path as a Kubernetes object name: `conf/nginx.conf` -> `conf-nginx-conf`."""
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")[:253]


def failure(message):
    return types.Diagnostic(severity=types.Severity.ERROR, message=message, resource=None,
                            field_path=None, location=None, code=None)


def note(file, message):
    return types.Diagnostic(severity=types.Severity.WARNING, message=message, resource=None,
                            field_path=None, location=types.SourceLocation(file=file, line=0, column=0),
                            code="skipped")
