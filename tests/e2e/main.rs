//! End-to-end tests of the plugin host and the pipeline, with real
//! components built from this repository. One binary, several modules.

mod cosign;
mod git;
mod hostile;
mod http_sources;
mod kustomize;
mod loading;
mod oci;
mod pipeline;
mod python;
mod render;
mod rollout;
mod rules;
mod schema;
mod sources;
mod verify_images;
