# syntax=docker/dockerfile:1
# The `tidings` binary in a small runtime image: `docker build -t tidings:local .`, then
# `docker run tidings:local api` (or projector, gateway, migrate, replay...). compose.yaml uses it.

# Build on bookworm so the binary links against the same glibc as the runtime stage.
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# BuildKit cache mounts keep the registry and target/ between builds; a cache mount is not
# part of the image, so the binary is copied out of it in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p tidings --bin tidings \
    && cp target/release/tidings /usr/local/bin/tidings

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 tidings \
    && useradd --system --uid 10001 --gid tidings --home-dir /var/lib/tidings \
       --shell /usr/sbin/nologin tidings \
    && install -d -o tidings -g tidings /var/lib/tidings
COPY --from=build /usr/local/bin/tidings /usr/local/bin/tidings
# data_dir holds the embedded store (when used) and the development app file.
ENV TIDINGS_DATA_DIR=/var/lib/tidings \
    TIDINGS_LISTEN=0.0.0.0:8080
WORKDIR /var/lib/tidings
USER tidings:tidings
EXPOSE 8080
ENTRYPOINT ["tidings"]
CMD ["--help"]
