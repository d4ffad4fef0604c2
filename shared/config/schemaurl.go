package config

// SchemaURL is where editors fetch the JSON Schema of conveyor.yaml (the
// file conveyor.schema.json beside this package); `conveyor schema` prints
// the same document.
const SchemaURL = "https://raw.githubusercontent.com/conveyor-gitops/conveyor/main/shared/config/conveyor.schema.json"
