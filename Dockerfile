# Multi-stage build: compile in the Rust image, run as a non-root user in a slim image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Query macros check against the committed .sqlx/, never a database, during the image build.
ENV SQLX_OFFLINE=true
# The product alone: no provider fakes, no benchmarks (the default `sandbox` feature is off).
RUN cargo build --release --locked --no-default-features --bin malipo

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home malipo
COPY --from=build /src/target/release/malipo /usr/local/bin/malipo
USER malipo
ENV MALIPO_HTTP_ADDR=0.0.0.0:8080 MALIPO_LOG_FORMAT=json
EXPOSE 8080
# Containers talk to a managed PostgreSQL: set DATABASE_URL. `malipo migrate` runs as the release step.
ENTRYPOINT ["malipo"]
CMD ["serve"]
