# citybase: one image for the web server, the worker and a district's deployment.
#
#   docker build -t citybase .
#   docker run --rm citybase --help
#
# Installed from this checkout (no package index at run time), run as an unprivileged user,
# with every optional back end the city deployment uses (PostgreSQL, NATS, MQTT, Redis).
# deploy/compose.yaml runs the whole city from it; docs/deployment.md explains the rest.

FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels ".[postgres,nats,mqtt,redis]"

FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    CITYBASE_HOME=/var/lib/citybase \
    CITYBASE_WEB__HOST=0.0.0.0 \
    CITYBASE_WORKER__HEALTH_HOST=0.0.0.0
RUN groupadd --system --gid 10001 citybase \
    && useradd --system --uid 10001 --gid citybase --home-dir /var/lib/citybase \
       --create-home --shell /usr/sbin/nologin citybase
COPY --from=build /wheels /wheels
RUN pip install --no-index --find-links /wheels "citybase[postgres,nats,mqtt,redis]" \
    && rm -rf /wheels
USER citybase:citybase
WORKDIR /var/lib/citybase
VOLUME ["/var/lib/citybase"]
# 8000: the console and API (/healthz, /readyz, /metrics); 8001: the worker's health port
EXPOSE 8000 8001
# SIGTERM: requests in flight finish (CITYBASE_WEB__GRACEFUL_SECONDS), the worker finishes its job
# and hands back the claims it has not begun; give the container longer than that to stop
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["citybase"]
CMD ["serve", "--no-worker"]
