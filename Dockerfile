# Koble's image: the same code runs as `web` and as `worker` (see docker-compose.yml).
# The wheel is the one pyproject.toml describes (service and evaluation), installed without the
# `eval` extra: the analysts' commands are there but say what to install (docs/contracts.md §2).
FROM python:3.11-slim

# JSON logs (one object per line, with the request id) for the log collector (docs/contracts.md §5).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 KOBLE_LOG_FORMAT=json
WORKDIR /app

COPY pyproject.toml README.md ./
COPY service ./service
COPY evaluation ./evaluation
RUN pip install . && useradd --create-home koble
USER koble

EXPOSE 8000
# Ready: database, pgvector, Redis and migrations (/readyz); compose starts the proxy and workers after it.
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
  CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz').status != 200)"
CMD ["koble", "serve", "--host", "0.0.0.0", "--port", "8000"]
