//! Writes the schemas of every built-in kind Kubernetes 1.35 serves, as
//! k8s-openapi describes them, to `$OUT_DIR/k8s-schemas.json`, which the
//! plugin embeds: `{"kubernetes": "1.35", "kinds": {"apps/v1/Deployment":
//! <schema>, …}, "$defs": {…}}`. Descriptions are dropped (most of the
//! size); the rest stays OpenAPI as served, and `src/openapi.rs` turns it
//! into strict JSON Schema at run time, the same way as CRD schemas.

use k8s_openapi::schemars::{JsonSchema, generate::SchemaSettings};
use serde_json::{Map, Value, json};

/// Adds the schema of each listed type (a path below `k8s_openapi`) to the
/// bundle, keyed by `apiVersion/kind`.
macro_rules! k8s_kinds {
    ($($($seg:ident)::+),+ $(,)?) => {
        fn kinds(generator: &mut k8s_openapi::schemars::SchemaGenerator) -> Map<String, Value> {
            let mut kinds = Map::new();
            $(
                add::<k8s_openapi::$($seg)::+>(generator, &mut kinds);
            )+
            kinds
        }
    };
}

fn add<T: JsonSchema + k8s_openapi::Resource>(
    generator: &mut k8s_openapi::schemars::SchemaGenerator,
    kinds: &mut Map<String, Value>,
) {
    let schema = generator.subschema_for::<T>().to_value();
    kinds.insert(format!("{}/{}", T::API_VERSION, T::KIND), schema);
}

// Every type k8s-openapi implements `Resource` for (v1_35); a type it drops
// in a later version fails this build, a type it adds is listed here by hand.
k8s_kinds! {
    api::admissionregistration::v1::MutatingWebhookConfiguration,
    api::admissionregistration::v1::ValidatingAdmissionPolicy,
    api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
    api::admissionregistration::v1::ValidatingWebhookConfiguration,
    api::admissionregistration::v1alpha1::MutatingAdmissionPolicy,
    api::admissionregistration::v1alpha1::MutatingAdmissionPolicyBinding,
    api::admissionregistration::v1beta1::MutatingAdmissionPolicy,
    api::admissionregistration::v1beta1::MutatingAdmissionPolicyBinding,
    api::apiserverinternal::v1alpha1::StorageVersion,
    api::apps::v1::ControllerRevision,
    api::apps::v1::DaemonSet,
    api::apps::v1::Deployment,
    api::apps::v1::ReplicaSet,
    api::apps::v1::StatefulSet,
    api::authentication::v1::SelfSubjectReview,
    api::authentication::v1::TokenRequest,
    api::authentication::v1::TokenReview,
    api::authorization::v1::LocalSubjectAccessReview,
    api::authorization::v1::SelfSubjectAccessReview,
    api::authorization::v1::SelfSubjectRulesReview,
    api::authorization::v1::SubjectAccessReview,
    api::autoscaling::v1::HorizontalPodAutoscaler,
    api::autoscaling::v1::Scale,
    api::autoscaling::v2::HorizontalPodAutoscaler,
    api::batch::v1::CronJob,
    api::batch::v1::Job,
    api::certificates::v1::CertificateSigningRequest,
    api::certificates::v1alpha1::ClusterTrustBundle,
    api::certificates::v1beta1::ClusterTrustBundle,
    api::certificates::v1beta1::PodCertificateRequest,
    api::coordination::v1::Lease,
    api::coordination::v1alpha2::LeaseCandidate,
    api::coordination::v1beta1::LeaseCandidate,
    api::core::v1::Binding,
    api::core::v1::ComponentStatus,
    api::core::v1::ConfigMap,
    api::core::v1::Endpoints,
    api::core::v1::Event,
    api::core::v1::LimitRange,
    api::core::v1::Namespace,
    api::core::v1::Node,
    api::core::v1::PersistentVolume,
    api::core::v1::PersistentVolumeClaim,
    api::core::v1::Pod,
    api::core::v1::PodTemplate,
    api::core::v1::ReplicationController,
    api::core::v1::ResourceQuota,
    api::core::v1::Secret,
    api::core::v1::Service,
    api::core::v1::ServiceAccount,
    api::discovery::v1::EndpointSlice,
    api::events::v1::Event,
    api::flowcontrol::v1::FlowSchema,
    api::flowcontrol::v1::PriorityLevelConfiguration,
    api::networking::v1::Ingress,
    api::networking::v1::IngressClass,
    api::networking::v1::IPAddress,
    api::networking::v1::NetworkPolicy,
    api::networking::v1::ServiceCIDR,
    api::networking::v1beta1::IPAddress,
    api::networking::v1beta1::ServiceCIDR,
    api::node::v1::RuntimeClass,
    api::policy::v1::Eviction,
    api::policy::v1::PodDisruptionBudget,
    api::rbac::v1::ClusterRole,
    api::rbac::v1::ClusterRoleBinding,
    api::rbac::v1::Role,
    api::rbac::v1::RoleBinding,
    api::resource::v1::DeviceClass,
    api::resource::v1::ResourceClaim,
    api::resource::v1::ResourceClaimTemplate,
    api::resource::v1::ResourceSlice,
    api::resource::v1alpha3::DeviceTaintRule,
    api::resource::v1beta1::DeviceClass,
    api::resource::v1beta1::ResourceClaim,
    api::resource::v1beta1::ResourceClaimTemplate,
    api::resource::v1beta1::ResourceSlice,
    api::resource::v1beta2::DeviceClass,
    api::resource::v1beta2::ResourceClaim,
    api::resource::v1beta2::ResourceClaimTemplate,
    api::resource::v1beta2::ResourceSlice,
    api::scheduling::v1::PriorityClass,
    api::scheduling::v1alpha1::Workload,
    api::storage::v1::CSIDriver,
    api::storage::v1::CSINode,
    api::storage::v1::CSIStorageCapacity,
    api::storage::v1::StorageClass,
    api::storage::v1::VolumeAttachment,
    api::storage::v1::VolumeAttributesClass,
    api::storage::v1beta1::VolumeAttributesClass,
    api::storagemigration::v1beta1::StorageVersionMigration,
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    apimachinery::pkg::apis::meta::v1::APIGroup,
    apimachinery::pkg::apis::meta::v1::APIGroupList,
    apimachinery::pkg::apis::meta::v1::APIResourceList,
    apimachinery::pkg::apis::meta::v1::APIVersions,
    apimachinery::pkg::apis::meta::v1::Status,
    kube_aggregator::pkg::apis::apiregistration::v1::APIService,
}

fn main() {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let kinds = kinds(&mut generator);
    let mut defs = Value::Object(generator.take_definitions(true));
    strip_descriptions(&mut defs);
    let bundle = json!({ "kubernetes": "1.35", "kinds": kinds, "$defs": defs });
    let out = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("k8s-schemas.json");
    std::fs::write(out, serde_json::to_vec(&bundle).unwrap()).unwrap();
    println!("cargo:rerun-if-changed=build.rs");
}

/// Drops `description` keywords; property names are never touched.
fn strip_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("description");
            for (key, v) in map.iter_mut() {
                if key == "properties" || key == "$defs" {
                    if let Value::Object(named) = v {
                        named.values_mut().for_each(strip_descriptions);
                    }
                } else {
                    strip_descriptions(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_descriptions),
        _ => {}
    }
}
