"""{{name}}: {{description}}

A Sluice rollout strategy. Sluice calls `step` with the rollout's state and
acts on the decision: it moves traffic, runs the analyses, evaluates the
promotion gates and keeps the state, then calls again. This one analyses the
candidate `iterations` times, `intervalSeconds` apart, promotes it once the
gates pass, and rolls back after `threshold` failed analyses. `decide` is a
plain function of the state; tests/steps.yaml checks it through the host.
"""

import json

import wit_world
from componentize_py_types import Err
from wit_world import RolloutPhase
from wit_world import RolloutDecision_Analyse as Analyse
from wit_world import RolloutDecision_Done as Done
from wit_world import RolloutDecision_Promote as Promote
from wit_world import RolloutDecision_Rollback as Rollback
from wit_world import RolloutDecision_Wait as Wait
from wit_world.imports import types

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "{{name}} rollout",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "iterations": {"description": "Analyses that must pass before promotion (default 3)",
                       "type": "integer", "minimum": 1},
        "intervalSeconds": {"description": "Seconds between analyses (default 60)",
                            "type": "integer", "minimum": 1},
        "threshold": {"description": "Failed analyses that roll back (default 2)",
                      "type": "integer", "minimum": 1},
    },
}

DEFAULTS = {"iterations": 3, "intervalSeconds": 60, "threshold": 2}


class WitWorld(wit_world.WitWorld):
    def metadata(self):
        return types.PluginMetadata(
            name="{{name}}",
            version="{{version}}",
            kind=types.PluginKind.ROLLOUT,
            description="{{description}}",
        )

    def config_schema(self):
        return json.dumps(SCHEMA)

    def step(self, state):
        try:
            config = {**DEFAULTS, **json.loads(state.config or "{}")}
        except ValueError as e:
            raise Err([diagnostic(types.Severity.ERROR, f"config is not JSON: {e}")])
        return decide(config, state)


def decide(config, state):
    interval_ms = config["intervalSeconds"] * 1000
    if state.failed_analyses >= config["threshold"]:
        failing = [f"{c.name}: {c.message}" for c in state.last_analysis if not c.passed]
        reason = (f"{state.failed_analyses} failed analyses (threshold {config['threshold']}); "
                  f"last: {'; '.join(failing)}")
        return because(Rollback(reason), "rolling back")
    if state.phase == RolloutPhase.PROMOTING:
        if state.candidate_ready:
            return because(Done(), "promoted")
        return because(Wait(5000), "waiting for the promoted primary to be ready")
    if not state.candidate_ready:
        return because(Wait(5000), "waiting for the candidate to be ready")
    if state.step_passed < config["iterations"]:
        waited = interval_ms if state.since_analysis_ms is None else state.since_analysis_ms
        if waited >= interval_ms:
            return because(Analyse(), f"analysis {state.step_passed + 1} of {config['iterations']}")
        return because(Wait(interval_ms - waited), "waiting for the next analysis")
    closed = [g.name for g in state.gates if not g.passed]
    if closed:
        return because(Wait(interval_ms), f"promotion waits for: {', '.join(closed)}")
    return because(Promote(), "every analysis passed")


def because(decision, why):
    """The decision with one note saying why, for status and events."""
    return wit_world.StepResult(decision=decision, diagnostics=[diagnostic(types.Severity.INFO, why)])


def diagnostic(severity, message):
    return types.Diagnostic(severity=severity, message=message, resource=None,
                            field_path=None, location=None, code=None)
