# prikbord in a container: `docker compose up` (compose.yaml) runs it with PostgreSQL; see docs/deploy.md.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY adapters ./adapters
COPY bot ./bot
COPY content ./content
COPY scheduler ./scheduler
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /var/lib/prikbord --create-home --shell /usr/sbin/nologin prikbord \
    && rm -rf /src

USER prikbord
WORKDIR /var/lib/prikbord
# Inside a container the web app listens on every interface; publish the port, or put the proxy in front.
ENV PRIKBORD_WEB__HOST=0.0.0.0 \
    PRIKBORD_WEB__PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
# `run` applies pending migrations before anything starts; compose's migrate service does it first too.
CMD ["prikbord", "run"]
