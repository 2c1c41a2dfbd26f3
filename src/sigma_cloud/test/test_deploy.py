"""The deployment artefacts are checked, not just shipped: Kubernetes manifests against the API schemas (offline),
Prometheus rules with promtool (syntax and unit tests), runbooks for every alert, and a Grafana dashboard whose every
query names a metric the running service really exports."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
MANIFESTS = sorted((DEPLOY / "kubernetes").rglob("*.yaml"))
RULES = DEPLOY / "prometheus" / "sigma-cloud.rules.yaml"
RULE_TESTS = DEPLOY / "prometheus" / "sigma-cloud.rules.test.yaml"
DASHBOARD = DEPLOY / "grafana" / "sigma-fleet-dashboard.json"
K8S_VERSION = "1.33"
SECRET_ENV = {"DATABASE_URL", "SIGMA_API_DB_PASSWORD", "SIGMA_JWT_SECRET"}


def documents() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]


def pod_specs() -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    """(name, pod spec, pod labels) of every workload."""
    out = []
    for _, doc in documents():
        if doc["kind"] in ("Deployment", "Job"):
            template = doc["spec"]["template"]
            out.append((doc["metadata"]["name"], template["spec"], template.get("metadata", {}).get("labels", {})))
    return out


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool not found: scripts/setup.sh extracts it from Debian's prometheus package"
    return path


def test_every_manifest_validates_against_the_kubernetes_schemas() -> None:
    assert len(MANIFESTS) >= 3
    kinds = []
    for path, doc in documents():
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"{path.relative_to(ROOT)}: {doc['kind']} {doc['metadata']['name']}: {exc.message}")
        kinds.append(doc["kind"])
    for kind in ("Job", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "NetworkPolicy",
                 "ServiceAccount", "ConfigMap"):
        assert kind in kinds, f"no {kind} in deploy/kubernetes"


def test_the_validator_rejects_a_broken_manifest() -> None:
    broken = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
              "spec": {"replicas": "two", "selector": {}, "template": {}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSION, strict=True)


def test_workloads_have_probes_resources_and_no_privileges() -> None:
    for name, spec, _ in pod_specs():
        assert spec.get("automountServiceAccountToken") is False, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for container in spec["containers"]:
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"], name
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False and context["capabilities"]["drop"] == ["ALL"], name
            assert context["readOnlyRootFilesystem"] is True, name
            if name != "sigma-cloud-migrate":
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
                assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name


def test_secrets_are_referenced_never_written() -> None:
    for path, doc in documents():
        assert doc["kind"] != "Secret", f"{path.relative_to(ROOT)} defines a Secret: create it out of band"
        if doc["kind"] == "ConfigMap":
            assert not SECRET_ENV & set(doc["data"]), f"{path.name}: secret in a ConfigMap"
    for name, spec, _ in pod_specs():
        for container in spec["containers"]:
            env = {e["name"]: e for e in container.get("env", [])}
            for key in SECRET_ENV:
                assert "value" not in env[key] and env[key]["valueFrom"]["secretKeyRef"]["name"], (name, key)


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_rollout_tracks_route_as_the_procedure_says() -> None:
    services = {d["metadata"]["name"]: d["spec"]["selector"] for _, d in documents() if d["kind"] == "Service"}
    pods = {name: labels for name, _, labels in pod_specs() if name != "sigma-cloud-migrate"}
    for _, doc in documents():
        if doc["kind"] == "Deployment":
            assert selects(doc["spec"]["selector"]["matchLabels"], doc["spec"]["template"]["metadata"]["labels"])
    live = {name for name, labels in pods.items() if selects(services["sigma-cloud"], labels)}
    preview = {name for name, labels in pods.items() if selects(services["sigma-cloud-preview"], labels)}
    assert live == {"sigma-cloud", "sigma-cloud-canary"}, "the canary shares the live Service with the stable pods"
    assert preview == {"sigma-cloud-green"}, "green is reachable only through the preview Service until the switch"
    switched = {**services["sigma-cloud"], "slot": "green"}  # docs/deploy.md: kubectl patch service ... slot=green
    assert {name for name, labels in pods.items() if selects(switched, labels)} == {"sigma-cloud-green"}


def test_the_cognition_worker_is_deployed_with_its_probes_and_metrics_on_its_health_port() -> None:
    """The Primary AI runs as its own Deployment: the CLI accepts its command line, the probes, the container port,
    Prometheus' annotation and the NetworkPolicy agree on one port; the HPA and PDB target it; no Service routes API
    traffic to it."""
    from sigma_cloud.cli import _parser

    docs = {(d["kind"], d["metadata"]["name"]): d for _, d in documents()}
    name = "sigma-cloud-cognition"
    template = docs[("Deployment", name)]["spec"]["template"]
    container = template["spec"]["containers"][0]
    assert container["command"][:3] == ["python", "-m", "sigma_cloud.cli"]
    options = _parser().parse_args(container["command"][3:])
    assert (options.command, options.http_host) == ("cognition", "0.0.0.0")
    port = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port[container["readinessProbe"]["httpGet"]["port"]] == port[container["livenessProbe"]["httpGet"]["port"]]
    assert options.http_port == port["health"] == int(template["metadata"]["annotations"]["prometheus.io/port"])
    policy = docs[("NetworkPolicy", name)]["spec"]
    assert selects(policy["podSelector"]["matchLabels"], template["metadata"]["labels"])
    assert [p["port"] for rule in policy["ingress"] for p in rule["ports"]] == [options.http_port]
    assert docs[("HorizontalPodAutoscaler", name)]["spec"]["scaleTargetRef"]["name"] == name
    assert docs[("HorizontalPodAutoscaler", name)]["spec"]["minReplicas"] >= 2  # failover without double work
    labels = template["metadata"]["labels"]
    assert selects(docs[("PodDisruptionBudget", name)]["spec"]["selector"]["matchLabels"], labels)
    for (kind, service), doc in docs.items():
        if kind == "Service":
            assert not selects(doc["spec"]["selector"], labels), service


def test_the_decision_path_has_its_own_replicas_and_service() -> None:
    """Deployment + Service `sigma-cloud-decisions` (the bridges' `decision_url`): the API's container as it is,
    reachable only through its own Service; the live API Service never routes to it, nor its Service to the API."""
    docs = {(d["kind"], d["metadata"]["name"]): d for _, d in documents()}
    api = docs[("Deployment", "sigma-cloud")]["spec"]["template"]
    path = docs[("Deployment", "sigma-cloud-decisions")]["spec"]["template"]
    strip = {"resources"}  # sized for its lighter load; everything else is the API's
    assert {k: v for k, v in path["spec"]["containers"][0].items() if k not in strip} == \
        {k: v for k, v in api["spec"]["containers"][0].items() if k not in strip}
    service = docs[("Service", "sigma-cloud-decisions")]["spec"]["selector"]
    assert selects(service, path["metadata"]["labels"]) and not selects(service, api["metadata"]["labels"])
    assert not selects(docs[("Service", "sigma-cloud")]["spec"]["selector"], path["metadata"]["labels"])
    assert docs[("NetworkPolicy", "sigma-cloud-decisions")]["spec"]["ingress"] == \
        docs[("NetworkPolicy", "sigma-cloud")]["spec"]["ingress"]
    assert selects(docs[("PodDisruptionBudget", "sigma-cloud-decisions")]["spec"]["selector"]["matchLabels"],
                   path["metadata"]["labels"])


def test_prometheus_rules_pass_promtool_check_and_unit_tests() -> None:
    check = subprocess.run([promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run([promtool(), "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent,
                           capture_output=True, text=True, timeout=120)
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_promtool_unit_tests_can_fail() -> None:
    """A rule test with a wrong expectation must fail, or the passing run above proves nothing."""
    wrong = RULE_TESTS.read_text().replace("exp_alerts: []", "exp_alerts: [{exp_labels: {severity: page}}]", 1)
    scratch = RULE_TESTS.parent / ".wrong.rules.test.yaml"
    scratch.write_text(wrong)
    try:
        run = subprocess.run([promtool(), "test", "rules", scratch.name], cwd=scratch.parent, capture_output=True,
                             text=True, timeout=120)
    finally:
        scratch.unlink()
    assert run.returncode != 0


def rule_groups() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def test_every_alert_links_an_existing_runbook() -> None:
    alerts = [r for r in rule_groups() if "alert" in r]
    assert len(alerts) >= 6
    for alert in alerts:
        url = alert["annotations"]["runbook_url"]
        runbook = ROOT / url
        assert runbook.is_file(), f"{alert['alert']}: runbook {url} missing"
        assert alert["alert"] in runbook.read_text(), f"{url} does not name {alert['alert']}"


def exported_names(text: str) -> set[str]:
    """Every sample name the exposition can contain, from its TYPE lines."""
    names = set()
    for kind, name in ((m.group(2), m.group(1)) for m in re.finditer(r"^# TYPE (\S+) (\S+)$", text, re.M)):
        names.add(name)
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
        if kind == "counter":
            names |= {name.removesuffix("_total") + "_total", name.removesuffix("_total") + "_created"}
    return names


def metric_tokens(expr: str) -> set[str]:
    return set(re.findall(r"\bsigma[_:][A-Za-z0-9_:]*", expr))


def worker_exposition() -> str:
    """What a fleet-cognition worker exports at /metrics (its real registry, every loop kind and a proposal)."""
    from types import SimpleNamespace

    from prometheus_client import generate_latest

    from sigma_cloud.cognition.health import WorkerHealth
    from sigma_cloud.cognition.worker import loop_names

    health = WorkerHealth(loop_names(1, 1), stale_s=30.0, now=0.0)
    for loop in loop_names(1, 1):
        health.loop_done(loop, ok=True, now=1.0, seconds=0.01, wall=1.7e9,
                         proposals=[SimpleNamespace(rule="r", action="a")])
    return generate_latest(health.registry).decode()


def test_dashboard_queries_name_metrics_the_service_exports(cloud: Any) -> None:
    """Every series a rule, alert or panel reads is exported by the API replicas or the cognition workers."""
    import json

    text = cloud.http.get("/metrics").text
    exported = exported_names(text) | exported_names(worker_exposition())
    recorded = {r["record"]: r["expr"] for r in rule_groups() if "record" in r}
    for name, expr in recorded.items():
        missing = {t for t in metric_tokens(expr) if t not in exported and t not in recorded}
        assert not missing, f"recording rule {name} reads metrics nobody exports: {missing}"
    for alert in (r for r in rule_groups() if "alert" in r):
        missing = {t for t in metric_tokens(alert["expr"]) if t not in exported and t not in recorded}
        assert not missing, f"alert {alert['alert']} reads unknown metrics: {missing}"
    panels = json.loads(DASHBOARD.read_text())["panels"]
    assert len(panels) >= 8
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            tokens = metric_tokens(target["expr"])
            assert tokens, f"panel {panel['title']!r} queries no sigma metric"
            missing = {t for t in tokens if t not in exported and t not in recorded}
            assert not missing, f"panel {panel['title']!r} queries metrics the service does not export: {missing}"


def gauge(text: str, name: str, **labels: str) -> float | None:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(name + "{"):
            sample_labels = ",".join(sorted(line[len(name) + 1:line.index("}")].split(",")))
            if sample_labels == want:
                return float(line.rsplit(" ", 1)[1])
    return None


def test_fleet_gauges_count_silent_robots_per_site(cloud: Any) -> None:
    quiet = cloud.robot("gauge-quiet", site_id="site-gauges")
    talker = cloud.robot("gauge-talker", site_id="site-gauges")
    assert quiet and cloud.post_batch(talker, talker.events(3, time.time())).status_code == 200
    text = cloud.http.get("/metrics").text
    assert "\nsigma_fleet_metrics_up 1.0\n" in text
    assert gauge(text, "sigma_site_robots", site="site-gauges", state="registered") == 2
    assert gauge(text, "sigma_site_robots", site="site-gauges", state="silent") == 1  # never heard from
    age = gauge(text, "sigma_site_newest_telemetry_age_seconds", site="site-gauges")
    assert age is not None and 0 <= age < 30
