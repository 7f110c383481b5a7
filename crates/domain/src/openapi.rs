//! What the derived schemas cannot say for themselves, written out: string maps with their key and
//! value limits, and the sample a client sends, whose rules depend on its kind. Everything the
//! server accepts, and nothing it refuses without state, passes these schemas.

use utoipa::openapi::schema::{
    AdditionalProperties, KnownFormat, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::RefOr;

use crate::metrica::MAX_LABELS;
use crate::NovaMetrica;

fn string(min: Option<usize>, max: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(min)
        .max_length(Some(max))
}

fn nullable(types: Type) -> SchemaType {
    SchemaType::from_iter([types, Type::Null])
}

/// An object of string values, or null: at most `entries` keys matching `key`, values of at most
/// `value_max` characters.
fn string_map(entries: usize, key: Schema, value_max: usize) -> Schema {
    let mut object = ObjectBuilder::new()
        .schema_type(nullable(Type::Object))
        .max_properties(Some(entries))
        .additional_properties(Some(AdditionalProperties::RefOr(RefOr::T(
            string(None, value_max).build().into(),
        ))))
        .build();
    object.property_names = Some(Box::new(key));
    object.into()
}

/// `metadados` of a message and `labels` of an alert: 32 entries, keys of 1 to 128 characters.
pub(crate) fn free_map(value_max: usize) -> Schema {
    string_map(32, string(Some(1), 128).build().into(), value_max)
}

/// `metadados`: values of at most 4096 characters.
pub(crate) fn metadados() -> Schema {
    free_map(4096)
}

/// An alert's `labels`: values of at most 1024 characters.
pub(crate) fn alert_labels() -> Schema {
    free_map(1024)
}

/// A label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`, at most 128 characters;
/// `excluded` names are left out.
fn label_name(excluded: &[&str]) -> Schema {
    let not: String = excluded.iter().map(|n| format!("{n}$|")).collect();
    string(Some(1), 128)
        .pattern(Some(format!("^(?!__|{not}$)[a-zA-Z_][a-zA-Z0-9_]*$")))
        .build()
        .into()
}

/// One sample of `tipo` (`None`: absent, null or `gauge`).
fn sample(tipo: Option<&str>) -> Schema {
    let tipo_schema = match tipo {
        Some(t) => ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([t]))
            .build(),
        None => ObjectBuilder::new()
            .schema_type(nullable(Type::String))
            .enum_values(Some([
                serde_json::Value::from("gauge"),
                serde_json::Value::Null,
            ]))
            .build(),
    };
    let mut valor = ObjectBuilder::new()
        .schema_type(Type::Number)
        .description(Some("Finite; not negative for a counter"));
    if tipo == Some("counter") {
        valor = valor.minimum(Some(0));
    }
    // A histogram's buckets take the label `le`; a counter's name needs more than `_total`.
    let labels = string_map(
        MAX_LABELS,
        label_name(if tipo == Some("histogram") {
            &["le"]
        } else {
            &[]
        }),
        1024,
    );
    let nome_pattern = if tipo == Some("counter") {
        "^(?!integra_|_total$)[a-zA-Z_:][a-zA-Z0-9_:]*$"
    } else {
        "^(?!integra_)[a-zA-Z_:][a-zA-Z0-9_:]*$"
    };
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "nome",
            string(Some(1), 200)
                .pattern(Some(nome_pattern))
                .description(Some(
                    "The metric's name; `integra_` names are the service's own",
                )),
        )
        .required("nome")
        .property("valor", valor)
        .required("valor")
        .property("tipo", tipo_schema)
        .property("labels", labels)
        .property(
            "timestamp",
            ObjectBuilder::new()
                .schema_type(nullable(Type::String))
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
                .description(Some("When it was measured (RFC 3339); now when absent")),
        )
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    if tipo.is_some() {
        object = object.required("tipo");
    }
    object.build().into()
}

impl utoipa::PartialSchema for NovaMetrica {
    fn schema() -> RefOr<Schema> {
        let one_of = OneOfBuilder::new()
            .item(sample(None))
            .item(sample(Some("counter")))
            .item(sample(Some("histogram")))
            .description(Some(
                "A sample: a gauge (the default), a counter (value not negative) or a histogram \
                 observation (no `le` label)",
            ))
            .build();
        RefOr::T(Schema::OneOf(one_of))
    }
}

impl utoipa::ToSchema for NovaMetrica {}
