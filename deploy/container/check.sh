#!/usr/bin/env bash
# Build the cloud image from deploy/Dockerfile with podman and show it working: the migrate step and the API run in
# containers (as the Kubernetes Job and Deployment do) against a PostgreSQL outside them, and /readyz answers.
#
#   deploy/container/check.sh            (root; needs podman, runc, debootstrap: apt-get install podman runc debootstrap)
#
# No image registry is reachable here, so the base image is made locally (Debian bookworm minbase by debootstrap,
# with python3 + python3-venv) and the Python packages come from an offline wheelhouse downloaded by the host's pip
# under requirements/constraints.txt. Everything lands in var/container/ (ignored by git). Takes a few minutes.
# The last line says what was shown.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="$ROOT/var/container"
BASE_IMAGE=localhost/sigma-base:bookworm
IMAGE=localhost/sigma-cloud:check
PODMAN=(podman --runtime runc)  # crun fails on this host's hybrid cgroups
LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)  # the default ulimits are refused here
cd "$ROOT"
mkdir -p "$WORK"

for tool in podman runc debootstrap; do
  command -v "$tool" >/dev/null || { echo "check.sh: $tool is missing (apt-get install podman runc debootstrap)" >&2; exit 2; }
done
[ -x .venv/bin/python ] || { echo "check.sh: run scripts/setup.sh first (the host venv downloads the wheels)" >&2; exit 2; }

echo "[container] base image $BASE_IMAGE"
if ! "${PODMAN[@]}" image exists "$BASE_IMAGE"; then
  rm -rf "$WORK/rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$WORK/rootfs" \
    http://deb.debian.org/debian >"$WORK/debootstrap.log" 2>&1 || { tail -20 "$WORK/debootstrap.log"; exit 1; }
  tar -C "$WORK/rootfs" -c . | "${PODMAN[@]}" import - "$BASE_IMAGE" >/dev/null
  rm -rf "$WORK/rootfs"
fi

echo "[container] wheelhouse (src/sigma_cloud/requirements.txt under constraints.txt)"
.venv/bin/pip download -q --disable-pip-version-check -d "$WORK/wheels" -c requirements/constraints.txt \
  -r src/sigma_cloud/requirements.txt wheel 2> >(grep -v "is ignored: it is neither" >&2)

echo "[container] podman build -f deploy/Dockerfile"
"${PODMAN[@]}" build -q --network=host "${LIMITS[@]}" -v "$WORK/wheels:/wheels:ro" \
  --build-arg BASE="$BASE_IMAGE" --build-arg PIP_NO_INDEX=1 --build-arg PIP_FIND_LINKS=/wheels \
  -f deploy/Dockerfile -t "$IMAGE" . >/dev/null

echo "[container] PostgreSQL outside the containers (embedded, as a managed database would be)"
source scripts/env.sh >/dev/null 2>&1 || true
PGROOT="$WORK/pg"
rm -rf "$PGROOT"
PG_PORT="$(.venv/bin/python -c 'from sigma_cloud.core.embedded import free_port; print(free_port())')"
API_PORT="$(.venv/bin/python -c 'from sigma_cloud.core.embedded import free_port; print(free_port())')"
OWNER_URL="$(.venv/bin/python - "$PGROOT" "$PG_PORT" <<'PY'
import sys
from pathlib import Path
from sigma_cloud.core.embedded import EmbeddedPostgres
server = EmbeddedPostgres(Path(sys.argv[1]), port=int(sys.argv[2]))
server.start()
print(server.url())
PY
)"
cleanup() {
  "${PODMAN[@]}" rm -f sigma-cloud-check >/dev/null 2>&1 || true
  .venv/bin/python -c "
from pathlib import Path
from sigma_cloud.core.embedded import EmbeddedPostgres
EmbeddedPostgres(Path('$PGROOT'), port=$PG_PORT).stop('fast')" >/dev/null 2>&1 || true
}
trap cleanup EXIT
ENVS=(-e SIGMA_ENVIRONMENT=production -e "DATABASE_URL=$OWNER_URL"
      -e "SIGMA_API_DB_PASSWORD=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(24))')"
      -e "SIGMA_JWT_SECRET=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(48))')"
      -e SIGMA_ARCHIVE_URL=/tmp/sigma/archive)

echo "[container] migrate (the Kubernetes Job's command)"
"${PODMAN[@]}" run --rm --network=host "${LIMITS[@]}" --read-only --tmpfs /tmp "${ENVS[@]}" "$IMAGE" \
  python -m sigma_cloud.cli migrate

echo "[container] API (the Deployment's command) on port $API_PORT"
"${PODMAN[@]}" run -d --name sigma-cloud-check --network=host "${LIMITS[@]}" --read-only --tmpfs /tmp "${ENVS[@]}" \
  "$IMAGE" uvicorn sigma_cloud.app.asgi:app --host 127.0.0.1 --port "$API_PORT" --workers 2 --no-access-log >/dev/null
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$API_PORT/readyz" >"$WORK/readyz.json" 2>/dev/null; then break; fi
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$API_PORT/readyz" >"$WORK/readyz.json" || {
  "${PODMAN[@]}" logs sigma-cloud-check | tail -30; echo "container API never became ready" >&2; exit 1; }
user="$("${PODMAN[@]}" exec sigma-cloud-check id -u)"
unauth="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$API_PORT/v1/robots")"
[ "$user" = 65532 ] || { echo "the API runs as uid $user, not 65532" >&2; exit 1; }
[ "$unauth" = 401 ] || { echo "GET /v1/robots without a token answered $unauth, not 401" >&2; exit 1; }
echo "container check: image $IMAGE ($(${PODMAN[@]} image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')), migrate ok, /readyz $(cat "$WORK/readyz.json"), uid $user, read-only root, unauthenticated read 401"
