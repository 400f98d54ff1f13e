# syntax=docker/dockerfile:1
# Ratchet's container image (the `Containerfile` beside this one is the same file, for Podman).
#
#   docker build -t ratchet:0.1.0 .
#   docker compose up -d                  # paper trading on the bundled simulator
#
# Stage 1 builds a wheel of ratchet and of every dependency, then installs those wheels, and only
# those (--no-index), into a virtual environment at /opt/ratchet. Stage 2 is a clean slim Python
# that receives that environment and nothing else: no compiler, no source tree, no pip cache.
# Both stages use the same base image, so the environment's interpreter links stay valid.
# tests/unit/test_containers.py lints this file (hadolint) and checks its structure;
# tests/integration/test_wheel_layout.py builds the same layout outside a container and runs it
# as an unprivileged user.

FROM python:3.11-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels . \
    && python -m venv /opt/ratchet \
    && /opt/ratchet/bin/pip install --no-cache-dir --no-index --find-links /wheels /wheels/ratchet-*.whl

FROM python:3.11-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="ratchet" \
      org.opencontainers.image.description="Spot trading engine for Coinbase Advanced Trade"
# A fixed, unprivileged UID/GID (not 1000, which often belongs to a host user): files in the
# state volume are owned by it, so backups and restores on the host can chown to 10001.
RUN groupadd --system --gid 10001 ratchet \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin ratchet \
    && mkdir -p /app/state \
    && chown 10001:10001 /app/state \
    && chmod 0700 /app/state
COPY --from=builder /opt/ratchet /opt/ratchet
ENV PATH=/opt/ratchet/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/app
# The state database (state/ratchet.db, paper runs: state/paper.db), its WAL files and the web
# secret live in /app/state: mount a volume there. Secrets (CB_API_KEY, CB_API_SECRET,
# RATCHET_DB_KEY) come from the environment at run time, never from the image.
WORKDIR /app
VOLUME ["/app/state"]
USER 10001:10001
# The web GUI and /healthz. The command below listens on all interfaces *inside* the container;
# publish it on the host's loopback only (docker run -p 127.0.0.1:8080:8080, as compose does).
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4); sys.exit(r.status != 200)"]
STOPSIGNAL SIGTERM
CMD ["ratchet", "run", "--paper", "--no-dashboard", "--web-host", "0.0.0.0", "--web-port", "8080"]
