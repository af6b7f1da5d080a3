//! Constrained decoding on real models: a JSON schema or a grammar decides
//! which tokens may be sampled, so even SmolLM2 135M (which rarely writes
//! valid JSON on its own) answers with JSON that matches the schema, and
//! the engine's masks run on every step (a sampled token the grammar did
//! not allow would fail the reply).

use crate::common::{chat_job, collect, cpu_engine, qwen_path, smollm2_path};
use domain::GenerationParams;
use engine::{gbnf_to_lark, FinishReason, Grammar};
use serde_json::{json, Value};

fn params(max: u32) -> GenerationParams {
    GenerationParams::greedy(max)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_json_schema_is_followed_by_a_tiny_model() {
    let engine = cpu_engine(&smollm2_path(), 2, 4);
    let model = engine.model().unwrap();
    let schema = json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 20},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
            "pets": {"type": "array", "items": {"enum": ["cat", "dog", "fish"]}, "maxItems": 3},
        },
        "required": ["name", "age", "pets"],
        "additionalProperties": false,
        "x-guidance": {"whitespace_flexible": false},
    });
    let mut job = chat_job(&engine, "Describe a person.", params(120));
    job.constraint = Some(
        model
            .constraints
            .constraint(&Grammar::JsonSchema(schema))
            .unwrap(),
    );
    let reply = collect(&engine, job).await;
    assert_eq!(reply.finish, FinishReason::Stop, "{}", reply.text());
    let value: Value = serde_json::from_str(&reply.text()).expect("valid JSON");
    assert!(value["name"].is_string(), "{value}");
    assert!(
        (0..=150).contains(&value["age"].as_i64().unwrap()),
        "{value}"
    );
    for pet in value["pets"].as_array().unwrap() {
        assert!(
            ["cat", "dog", "fish"].contains(&pet.as_str().unwrap()),
            "{value}"
        );
    }

    // Without the grammar the same request is not this JSON.
    let free = collect(&engine, chat_job(&engine, "Describe a person.", params(40))).await;
    assert!(
        serde_json::from_str::<Value>(&free.text()).is_err(),
        "{}",
        free.text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gbnf_grammar_limits_the_answer() {
    let engine = cpu_engine(&qwen_path(), 2, 4);
    let model = engine.model().unwrap();
    let lark = gbnf_to_lark(r#"root ::= ("yes" | "no") "." "#).unwrap();
    let mut job = chat_job(&engine, "Is the sky green? Answer in one word.", params(10));
    job.constraint = Some(model.constraints.constraint(&Grammar::Lark(lark)).unwrap());
    let reply = collect(&engine, job).await;
    assert!(
        ["yes.", "no."].contains(&reply.text().as_str()),
        "{:?}",
        reply.text()
    );
    assert_eq!(reply.finish, FinishReason::Stop);
}

#[test]
fn a_broken_schema_or_grammar_is_refused_before_generation() {
    let engine = cpu_engine(&smollm2_path(), 1, 1);
    let model = engine.model().unwrap();
    let bad = model
        .constraints
        .constraint(&Grammar::JsonSchema(json!({"type": "no-such-type"})))
        .unwrap_err();
    assert!(bad.to_string().contains("grammar or schema"), "{bad}");
    assert!(model
        .constraints
        .constraint(&Grammar::Lark("start: undefined_rule\n".into()))
        .is_err());
}
