# The image deploy/ runs: `berth operator` (controllers, scheduler, webhook) and `berth webhook-certificate`.
#   docker build -t <registry>/berth:0.1.0 .
#   then name that image in the images: of deploy/kustomization.yaml and deploy/base/kustomization.yaml
# Not built on Berth's development machines (they have no container engine); docs/kubernetes.md says so.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# A user with no rights on the image (the Deployment also runs it as 65532, with a read-only root).
RUN useradd --uid 65532 --user-group --no-create-home --shell /usr/sbin/nologin berth
USER 65532:65532
ENV PYTHONUNBUFFERED=1 HOME=/tmp
ENTRYPOINT []
CMD ["berth", "operator"]
