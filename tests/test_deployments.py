"""prefect.yaml: every deployment runs on the launch server and names its flow for Prefect's engine."""

from __future__ import annotations

import importlib

import pytest
import yaml
from prefect import Flow

from scripts.stack import ROOT

DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_the_engine_takes_the_deployment_s_own_flow(deployment: dict) -> None:
    # Prefect's engine imports PREFECT__FLOW_ENTRYPOINT in place of reading the deployment: a name
    # that drifted from the entrypoint would run another flow, or none.
    jobs = deployment["work_pool"]["job_variables"]
    assert jobs["command"] == "python -m flows.launcher"
    assert jobs["working_dir"] == "{{ $CONTROL_ROOM_HOME }}"
    path, name = deployment["entrypoint"].split(":")
    module, attribute = jobs["env"]["PREFECT__FLOW_ENTRYPOINT"].split(":")
    assert module.replace(".", "/") + ".py" == path and attribute == name
    flow = getattr(importlib.import_module(module), attribute)
    assert isinstance(flow, Flow)


def test_only_the_complaint_runs_in_the_default_queue() -> None:
    queues = {d["name"]: d["work_pool"].get("work_queue_name") for d in DEPLOYMENTS}
    assert queues.pop("complaint-lifecycle") is None
    assert set(queues.values()) == {"background"}
