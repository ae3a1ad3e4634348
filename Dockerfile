# One image for every stage of the pipeline (docs/CONTAINERS.md). docker-compose.yml runs it once per
# service, each with its own binary as `command:` (Extractor, Transformer, Saver, API, and the
# DummyJSON fixture under the `offline` profile). Targets:
#
#   build     the official Swift image on Debian bookworm with the -dev packages; builds every
#             service's executable in release with the Swift runtime linked in statically
#   keygen    debian:bookworm-slim with openssh-client and scripts/gen-keys.sh: the one-shot
#             `keygen` service that creates ssh_keys/* on first start
#   runtime   debian:bookworm-slim with only the C libraries the binaries link, ca-certificates
#             and curl (the API's health check), a non-root user, the binaries in /usr/local/bin
#
# Needs BuildKit (the build step's `RUN --mount=type=cache`; the legacy builder rejects it):
# Docker 23 and newer use it by default; Docker 20.10 with DOCKER_BUILDKIT=1, and with
# COMPOSE_DOCKER_CLI_BUILD=1 too under docker-compose 1.x (scripts/compose-check.sh builds it so
# with Debian's 20.10.24 and docker-compose 1.29.2). No `# syntax=` line on purpose: it would make
# BuildKit fetch a frontend image from a registry first; the built-in one handles this file.
#
# Build stage image: swift:6.3-bookworm, the official image of our toolchain family (these
# machines build with Swift 6.3.1; Package.swift needs tools 6.1 or newer). Pin a patch release
# with --build-arg SWIFT_IMAGE=swift:6.3.1-bookworm. The runtime must be the same Debian release
# as the build image, so that the sonames the binaries link are the ones apt installs below.
ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------------------------------------
FROM ${SWIFT_IMAGE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# The C libraries' headers (one SwiftPM system-library target each; SQLite through GRDB).
# Versions come from the bookworm release the image is based on.
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libhiredis-dev libcurl4-openssl-dev libssh2-1-dev libsqlite3-dev pkg-config binutils \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# .dockerignore keeps keys, local data, .build and Package.resolved out of the context.
COPY . .
# The executables the services run; scripts/container-contract.py checks this list against
# Package.swift's products and the compose commands.
ARG PRODUCTS="Extractor Transformer Saver API DummyJSON"
# --static-swift-stdlib: the Swift runtime and Foundation are linked in, so the runtime image
# needs no Swift toolchain, only the Debian C libraries. Resource bundles (*.resources, e.g. the
# transformer's departments table) are looked up next to the executable, so they go along.
# (`|| exit 1`: a for loop's status is only its last command's.)
RUN --mount=type=cache,target=/src/.build \
    for product in ${PRODUCTS}; do \
      swift build -c release --static-swift-stdlib --product "${product}" || exit 1; \
    done \
 && bin="$(swift build -c release --static-swift-stdlib --show-bin-path)" \
 && mkdir -p /out \
 && for product in ${PRODUCTS}; do \
      install -m 0755 "${bin}/${product}" /out/ && strip "/out/${product}" || exit 1; \
    done \
 && for bundle in "${bin}"/*.resources; do \
      if [ -d "${bundle}" ]; then cp -R "${bundle}" /out/; fi; \
    done \
 && ls -l /out

# ---------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS keygen
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openssh-client \
 && rm -rf /var/lib/apt/lists/*
COPY scripts/gen-keys.sh scripts/compose-keygen.sh /usr/local/bin/
WORKDIR /app
CMD ["compose-keygen.sh"]

# ---------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
# Exactly the shared libraries the release binaries link (scripts/compose-check.sh runs ldd in
# the built image: none missing, none installed that no binary links): hiredis (extractor,
# transformer, saver), libcurl (extractor), libssh2 (saver), SQLite (saver, API). No -dev
# packages. ca-certificates for https upstreams; curl for the API's health check; age for the
# saver's encrypted uploads (only the public recipients are passed in; no identity is here).
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libhiredis0.14 libcurl4 libssh2-1 libsqlite3-0 ca-certificates curl age \
 && rm -rf /var/lib/apt/lists/*
# The stages run as this user. The layout under /app mirrors the repository's for a local run
# (scripts/run.sh): data/ (DATA_DIR, the staging volume), database/ (DB_PATH), ssh_keys/.
# The `keygen` service makes the bind-mounted ./database and the client key usable by APP_UID.
ARG APP_UID=10001
RUN groupadd --system --gid "${APP_UID}" etl \
 && useradd --system --uid "${APP_UID}" --gid etl --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin etl \
 && install -d -o etl -g etl -m 0755 /app /app/data /app/database /app/ssh_keys
COPY --from=build /out/ /usr/local/bin/
WORKDIR /app
USER ${APP_UID}:${APP_UID}
# API (8000) and the DummyJSON fixture (8090); the pipeline stages listen on nothing.
EXPOSE 8000 8090
# No default command: every compose service names its binary.
CMD ["sh", "-c", "echo 'run one of: Extractor Transformer Saver API DummyJSON' >&2; exit 64"]
