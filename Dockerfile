# nbo: the next-best-offer service. Build: docker build -t nbo . ; models live in the /models volume.

# --- wheels for nbo's dependencies, built where compilers may be needed -----------------------------
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements/main.txt ./
# The locked versions, checked against their hashes; setuptools (pinned as in requirements/dev.txt)
# installs nbo itself in place below.
RUN pip wheel --no-cache-dir --require-hashes --wheel-dir /wheels -r main.txt \
    && pip wheel --no-cache-dir --no-deps --wheel-dir /wheels "setuptools==84.2.1"

# --- the service --------------------------------------------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OPENBLAS_NUM_THREADS=1 \
    NBO_HOST=0.0.0.0 \
    NBO_PORT=8000 \
    NBO_MODELS_DIR=/models \
    NBO_SAMPLE_DATA=
# implicit's compiled code needs the OpenMP runtime, which the slim image lacks (left unpinned: it
# follows the base image's Debian release).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/nbo
COPY --from=build /wheels /wheels
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY data ./data
# Installed in place (not into site-packages) so that nbo finds its migrations beside the code.
RUN pip install --no-cache-dir --no-index --find-links /wheels /wheels/*.whl \
    && pip install --no-cache-dir --no-index --find-links /wheels --no-deps --no-build-isolation -e . \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --create-home nbo \
    && mkdir -p /models \
    && chown nbo /models
USER 10001
VOLUME ["/models"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]
ENTRYPOINT ["nbo"]
CMD ["serve"]
