//! The tokenizer we build from GGUF metadata must give the same ids as the
//! model's reference tokenizer (Hugging Face tokenizer.json for Qwen;
//! llama.cpp's for Gemma's SentencePiece vocabulary).

use engine::load_tokenizer;

/// Texts covering ASCII, Chinese, code, digits and whitespace runs. (The
/// reference tokenizer.json is Qwen3's; it shares Qwen2.5's vocabulary and
/// merges but not every added token, so only shared special tokens appear.)
const SAMPLES: &[&str] = &[
    "Hello, world! What is the capital of France?",
    "你好，世界。请用中文介绍一下北京的历史。",
    "fn main() {\n    let x: Vec<u32> = (0..10).map(|i| i * 2).collect();\n    println!(\"{x:?}\");\n}\n",
    "def f(a, b):\n\treturn a ** 2 + b  # 12345 and 3.14159\n\n\n",
    "Mixed 中文 and English, emoji 🙂, accents: café naïve.",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    "   leading spaces and trailing   ",
];

#[test]
fn qwen_ids_match_the_reference_tokenizer() {
    let ours = load_tokenizer(&crate::common::qwen_path()).expect("tokenizer from GGUF");
    let reference = tokenizers::Tokenizer::from_file(crate::common::reference_tokenizer_path())
        .expect("reference tokenizer");
    for text in SAMPLES {
        let expected = reference.encode(*text, false).unwrap().get_ids().to_vec();
        let got = ours.encode(text).unwrap();
        assert_eq!(got, expected, "ids differ for {text:?}");
        assert_eq!(
            ours.decode(&got).unwrap(),
            text.replace("<|im_start|>", "").replace("<|im_end|>", "")
        );
    }
}

#[test]
fn qwen_chatml_special_tokens_are_single_ids() {
    let ours = load_tokenizer(&crate::common::qwen_path()).unwrap();
    assert_eq!(ours.encode("<|im_start|>").unwrap(), vec![151644]);
    assert_eq!(ours.encode("<|im_end|>").unwrap(), vec![151645]);
    assert_eq!(ours.encode("<|endoftext|>").unwrap(), vec![151643]);
    assert!(ours.is_eos(151645), "<|im_end|> ends a Qwen reply");
}

#[test]
fn smollm2_splits_digits_one_by_one_and_knows_chatml() {
    let ours = load_tokenizer(&crate::common::smollm2_path()).unwrap();
    // SmolLM2's tokenizer.json pre-tokenizes with Digits(individual_digits)
    // before byte-level BPE: "2024" must be four tokens, never grouped.
    let ids = ours.encode("2024").unwrap();
    assert_eq!(ids.len(), 4, "{ids:?}");
    let single: Vec<u32> = "2024"
        .chars()
        .map(|c| ours.encode(&c.to_string()).unwrap()[0])
        .collect();
    assert_eq!(ids, single);
    assert_eq!(ours.encode("<|im_start|>").unwrap(), vec![1]);
    assert_eq!(ours.encode("<|im_end|>").unwrap(), vec![2]);
    assert!(ours.is_eos(2));
    let text = "The year 1789 began; 你好!";
    assert_eq!(ours.decode(&ours.encode(text).unwrap()).unwrap(), text);
}

/// Gemma's SentencePiece vocabulary from the GGUF alone: the ids llama.cpp
/// gives (`scripts/reference-tokens.py` wrote the fixture with
/// `llama-tokenize`) for ASCII, Chinese, code, whitespace runs, emoji and
/// special tokens, and the text back again.
#[test]
fn gemma_ids_match_llama_cpp() {
    let ours = load_tokenizer(&crate::common::gemma_path()).expect("tokenizer from GGUF");
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(crate::common::repo_path(
            "server/tests/fixtures/gemma3-tokens.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let expected: Vec<u32> = serde_json::from_value(case["ids"].clone()).unwrap();
        let mut got = ours.encode(text).unwrap();
        // The model asks for <bos>; the reference was made without it. A
        // text that starts with <bos> itself gets no second one.
        assert_eq!(got[0], 2, "<bos> first");
        if !text.starts_with("<bos>") {
            got.remove(0);
        }
        assert_eq!(got, expected, "ids differ for {text:?}");
        let specials = ["<start_of_turn>", "<end_of_turn>", "<bos>"];
        let visible = specials
            .iter()
            .fold(text.to_string(), |t, s| t.replace(s, ""));
        assert_eq!(
            ours.decode(&got).unwrap(),
            visible,
            "round trip of {text:?}"
        );
    }
    assert!(ours.is_eos(1), "<eos> ends a Gemma reply");
    assert_eq!(ours.encode("<end_of_turn>").unwrap()[1..], [106]);
}
