# syntax=docker/dockerfile:1
# telegraf-lutron images (compose.yaml builds and runs both):
#   docker build --target plugin -t telegraf-lutron-plugin .   Telegraf + the plugin; also runs
#                                                               `db init` and `simulate`
#   docker build --target webui  -t telegraf-lutron-webui .    the web UI on :8501
# Both run as uid/gid 10001 (the telegraf user, renumbered; the same ids in both images, so the
# UI can read the plugin's cache volume). Configuration is mounted: /etc/telegraf/telegraf.conf and
# /etc/telegraf/lutron.toml (the copies baked in from deploy/ are only defaults).

# --- bases: every version pinned in one place ------------------------------------------------
FROM telegraf:1.39.3 AS telegraf-base
FROM python:3.11.13-slim-bookworm AS python-base

# --- plugin ------------------------------------------------------------------------------------
# The Telegraf image is Debian bookworm (buildpack-deps:bookworm-curl). The venv is built with
# the distribution's Python and copied into a stage that installs the same python3 package, so
# the venv's bin/python3 -> /usr/bin/python3 link stays valid.
FROM telegraf-base AS plugin-build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3=3.11.2-1+b1 python3-venv=3.11.2-1+b1 \
 && rm -rf /var/lib/apt/lists/*
RUN python3 -m venv /opt/telegraf-lutron/venv
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY telegraf_lutron ./telegraf_lutron
RUN /opt/telegraf-lutron/venv/bin/pip install --no-cache-dir --disable-pip-version-check ".[db]"

FROM telegraf-base AS plugin
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3=3.11.2-1+b1 \
 && rm -rf /var/lib/apt/lists/* \
 && old_uid="$(id -u telegraf)" && old_gid="$(id -g telegraf)" \
 && groupmod --gid 10001 telegraf \
 && usermod --uid 10001 --gid 10001 telegraf \
 && find / -xdev \( -uid "$old_uid" -o -gid "$old_gid" \) -exec chown -h 10001:10001 {} + \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/telegraf-lutron
COPY --from=plugin-build /opt/telegraf-lutron/venv /opt/telegraf-lutron/venv
COPY deploy/telegraf.conf /etc/telegraf/telegraf.conf
COPY deploy/lutron.toml /etc/telegraf/lutron.toml
COPY --chmod=0755 deploy/docker-entrypoint.sh /usr/local/bin/telegraf-lutron-entrypoint
ENV PATH=/opt/telegraf-lutron/venv/bin:$PATH \
    PYTHONUNBUFFERED=1
USER 10001:10001
EXPOSE 9992
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:9992/metrics"]
# The image's own entrypoint (drops root if started as root) runs after ours.
ENTRYPOINT ["/usr/local/bin/telegraf-lutron-entrypoint", "/entrypoint.sh"]
CMD ["telegraf", "--config", "/etc/telegraf/telegraf.conf"]

# --- webui -------------------------------------------------------------------------------------
# The image installs the wheel, exactly as `pip install telegraf-lutron[db,ui]` would: the web UI
# ships inside the package (telegraf_lutron.webui), so no checkout is copied and `telegraf-lutron
# ui` finds the app next to the installed package.
FROM python-base AS webui-build
RUN python -m venv /opt/telegraf-lutron/venv
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY telegraf_lutron ./telegraf_lutron
COPY webui ./webui
RUN /opt/telegraf-lutron/venv/bin/pip wheel --no-cache-dir --disable-pip-version-check --no-deps \
        --wheel-dir /tmp/dist . \
 && wheel="$(find /tmp/dist -name 'telegraf_lutron-*.whl')" \
 && /opt/telegraf-lutron/venv/bin/pip install --no-cache-dir --disable-pip-version-check "${wheel}[db,ui]" \
 && rm -rf /tmp/dist

FROM python-base AS webui
# The plugin's uid/gid: the UI reads the plugin's cache volume (design cache, counters), whose
# files the plugin writes with mode 0600.
RUN groupadd --gid 10001 lutron \
 && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin lutron \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/telegraf-lutron
COPY --from=webui-build /opt/telegraf-lutron/venv /opt/telegraf-lutron/venv
COPY --chmod=0755 deploy/docker-entrypoint.sh /usr/local/bin/telegraf-lutron-entrypoint
WORKDIR /home/lutron
ENV PATH=/opt/telegraf-lutron/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_FILE_WATCHER_TYPE=none
USER 10001:10001
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
ENTRYPOINT ["/usr/local/bin/telegraf-lutron-entrypoint"]
# Inside the container the UI must listen on every interface; compose publishes it on the host.
CMD ["telegraf-lutron", "ui", "--host", "0.0.0.0", "--port", "8501"]
