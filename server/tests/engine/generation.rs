//! Real models answer: greedy replies from both architectures, clean Chinese
//! streaming, stop strings and cancellation on the real engine.

use std::time::Duration;

use crate::common::{chat_job, collect};
use domain::GenerationParams;
use engine::{Engine, EngineEvent, FinishReason};

fn engine(path: std::path::PathBuf) -> Engine {
    let engine = crate::common::cpu_engine(&path, 4, 4);
    engine.model().expect("model loads");
    engine
}

#[tokio::test]
async fn smollm2_knows_the_capital_of_france() {
    let engine = engine(crate::common::smollm2_path());
    let reply = collect(
        &engine,
        chat_job(
            &engine,
            "What is the capital of France?",
            GenerationParams::greedy(40),
        ),
    )
    .await;
    assert!(reply.text().contains("Paris"), "reply: {:?}", reply.text());
    assert!(reply.stats.prompt_tokens > 5);
    assert!(reply.stats.completion_tokens > 0);
    println!(
        "smollm2: {:.1} prompt tok/s, {:.1} decode tok/s",
        reply.stats.prompt_tokens_per_second, reply.stats.decode_tokens_per_second
    );
}

#[tokio::test]
async fn qwen_knows_the_capital_of_france_and_streams_chinese_cleanly() {
    let engine = engine(crate::common::qwen_path());
    let reply = collect(
        &engine,
        chat_job(
            &engine,
            "What is the capital of France?",
            GenerationParams::greedy(40),
        ),
    )
    .await;
    assert!(reply.text().contains("Paris"), "reply: {:?}", reply.text());
    println!(
        "qwen: {:.1} prompt tok/s, {:.1} decode tok/s",
        reply.stats.prompt_tokens_per_second, reply.stats.decode_tokens_per_second
    );

    let reply = collect(
        &engine,
        chat_job(
            &engine,
            "请用中文简单介绍一下北京。",
            GenerationParams::greedy(60),
        ),
    )
    .await;
    let text = reply.text();
    assert!(
        text.chars()
            .filter(|c| ('\u{4e00}'..='\u{9fff}').contains(c))
            .count()
            > 10,
        "expected a Chinese reply, got {text:?}"
    );
    for piece in &reply.pieces {
        assert!(
            !piece.contains('\u{FFFD}'),
            "broken character in streamed piece {piece:?}"
        );
    }
}

#[tokio::test]
async fn stop_strings_end_the_reply_and_are_not_shown() {
    let engine = engine(crate::common::smollm2_path());
    let free = collect(
        &engine,
        chat_job(
            &engine,
            "What is the capital of France?",
            GenerationParams::greedy(40),
        ),
    )
    .await
    .text();
    let params = GenerationParams {
        custom_stopping_strings: vec!["Paris".into()],
        ..GenerationParams::greedy(40)
    };
    let reply = collect(
        &engine,
        chat_job(&engine, "What is the capital of France?", params),
    )
    .await;
    assert_eq!(reply.finish, FinishReason::Stop);
    assert_eq!(reply.text(), free[..free.find("Paris").unwrap()]);
}

#[tokio::test]
async fn max_new_tokens_bounds_the_reply() {
    let engine = engine(crate::common::smollm2_path());
    let reply = collect(
        &engine,
        chat_job(
            &engine,
            "Write a long story about a dragon.",
            GenerationParams::greedy(7),
        ),
    )
    .await;
    assert_eq!(reply.finish, FinishReason::Length);
    assert_eq!(reply.stats.completion_tokens, 7);
}

#[tokio::test]
async fn stop_ends_a_real_generation_within_one_token() {
    let engine = engine(crate::common::smollm2_path());
    let job = chat_job(
        &engine,
        "Write a long story about a dragon.",
        GenerationParams::greedy(500),
    );
    let cancel = engine::Cancel::default();
    let mut stream = engine.submitter().submit(job, cancel.clone()).unwrap();
    let mut before = 0;
    while before < 3 {
        match stream.recv().await.unwrap() {
            EngineEvent::Text(_) => before += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    cancel.stop();
    let mut after = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.recv())
            .await
            .unwrap()
        {
            Some(EngineEvent::Text(_)) => after += 1,
            Some(EngineEvent::Finished { reason, stats }) => {
                assert_eq!(reason, FinishReason::Cancelled);
                assert!(stats.completion_tokens < 20, "{stats:?}");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    // The token being computed when Stop arrived may still be delivered.
    assert!(after <= 1, "{after} tokens arrived after stop");
}

/// A long prompt whose client goes away stops at the next chunk: the
/// engine is free for the next request within a second (it used to read
/// the whole prompt, 42 s for 7,000 tokens).
#[tokio::test]
async fn a_cancelled_long_prompt_frees_the_engine_within_a_second() {
    let engine = crate::common::cpu_engine(&crate::common::smollm2_path(), 1, 4);
    let model = engine.model().unwrap();
    let wanted = 7000.min(model.info.context_length - 64);
    let mut text = String::new();
    let mut tokens = Vec::new();
    while tokens.len() < wanted {
        text.push_str("The lighthouse keeper wrote in her log every evening. ");
        tokens = model.tokenizer.encode(&text).unwrap();
    }
    tokens.truncate(wanted);
    let eos = model.tokenizer.eos_ids().to_vec();
    let mut long = engine
        .submitter()
        .submit(
            engine::GenerationJob::greedy(tokens, 5, eos.clone()),
            engine::Cancel::default(),
        )
        .unwrap();
    // Wait until the prompt is being read, then go away.
    loop {
        match long.recv().await {
            Some(EngineEvent::Reading { done, total }) if done > 0 => {
                assert!(done < total, "{done} of {total}");
                break;
            }
            Some(
                EngineEvent::Reading { .. }
                | EngineEvent::Waiting { .. }
                | EngineEvent::Logprobs(_),
            ) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    drop(long);
    let next = chat_job(&engine, "Say hello.", GenerationParams::greedy(3));
    let reply = collect(&engine, next).await;
    println!(
        "the next request's first token after {:.0} ms",
        reply.stats.time_to_first_token_ms
    );
    assert!(
        reply.stats.time_to_first_token_ms < 1000.0,
        "the engine was busy for {:.0} ms after the client left",
        reply.stats.time_to_first_token_ms
    );
}
