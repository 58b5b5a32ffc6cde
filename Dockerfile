# The image of the API and of the workers: one package, started as `catalog-import serve` or `worker`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY alembic ./alembic
COPY catalog_import ./catalog_import
RUN pip install . && rm -rf /src

RUN useradd --system --uid 10001 --home-dir /var/lib/catalog-import --create-home catalog-import
USER catalog-import
WORKDIR /var/lib/catalog-import
# Made here, so that a named volume mounted on it belongs to this user.
RUN mkdir media
ENV CATALOG_IMPORT_DATA_DIR=/var/lib/catalog-import \
    CATALOG_IMPORT_MEDIA_DIR=/var/lib/catalog-import/media \
    CATALOG_IMPORT_LOG_JSON=true

EXPOSE 8000
ENTRYPOINT ["catalog-import"]
CMD ["serve", "--no-worker", "--host", "0.0.0.0", "--port", "8000"]
