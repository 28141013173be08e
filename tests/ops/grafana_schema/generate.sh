#!/bin/sh
# Regenerate dashboard.schema.json: the JSON Schema of Grafana's Dashboard type, generated from
# the TypeScript types npm @grafana/schema publishes. Needs node and npm; the install happens in
# a temporary directory, never in the repository. The test reads only the committed output.
#
#   sh tests/ops/grafana_schema/generate.sh
set -eu

GRAFANA_SCHEMA_VERSION=11.6.16          # the Grafana line the dashboard targets (schemaVersion 41)
GENERATOR_VERSION=2.4.0                 # ts-json-schema-generator; later releases need node >= 22
TYPES=node_modules/@grafana/schema/dist/esm/raw/dashboard/x/dashboard_types.gen.d.ts

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent \
    "@grafana/schema@$GRAFANA_SCHEMA_VERSION" "ts-json-schema-generator@$GENERATOR_VERSION"
npx --no-install ts-json-schema-generator --path "$TYPES" --type Dashboard \
    --out "$here/dashboard.schema.json"
echo "wrote $here/dashboard.schema.json (@grafana/schema $GRAFANA_SCHEMA_VERSION," \
    "ts-json-schema-generator $GENERATOR_VERSION)"
