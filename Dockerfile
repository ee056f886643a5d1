# The production image: one image, three processes (web, worker, beat) chosen by the command.
FROM python:3.13-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CRM_VAR_DIR=/app/var

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p crm customers tickets surveys metrics accounts \
    && pip install --upgrade pip \
    && pip install .

COPY . .
RUN pip install --no-deps -e . \
    && DJANGO_DEBUG=0 DJANGO_SECRET_KEY=collectstatic-only-not-a-secret \
       python manage.py collectstatic --noinput \
    && useradd --system --uid 10001 --home /app crm \
    && mkdir -p /app/var && chown -R crm /app/var

USER crm
EXPOSE 8000
# Migrations, then gunicorn: the one command docker-compose, `make web` and CI's smoke run.
CMD ["scripts/serve"]
