//! Request and response bodies of the OpenAI-compatible API, with
//! text-generation-webui's extra fields. Unknown fields are ignored, as
//! OpenAI clients send fields this server has no use for.

use serde::{Deserialize, Serialize};

/// `stop`: one string or a list.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum StopField {
    One(String),
    Many(Vec<String>),
}

impl StopField {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            StopField::One(s) => vec![s],
            StopField::Many(v) => v,
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

/// Sampling and output fields shared by both completion endpoints, with
/// OpenAI's names and text-generation-webui's.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct SamplingFields {
    pub model: Option<String>,
    pub preset: Option<String>,
    pub temperature: Option<f32>,
    pub top_p: Option<f32>,
    pub top_k: Option<u32>,
    pub min_p: Option<f32>,
    pub typical_p: Option<f32>,
    pub repetition_penalty: Option<f32>,
    pub repetition_penalty_range: Option<u32>,
    pub presence_penalty: Option<f32>,
    pub frequency_penalty: Option<f32>,
    pub do_sample: Option<bool>,
    pub seed: Option<i64>,
    pub max_tokens: Option<u32>,
    pub max_completion_tokens: Option<u32>,
    pub max_new_tokens: Option<u32>,
    pub truncation_length: Option<u32>,
    pub ban_eos_token: Option<bool>,
    pub dry_multiplier: Option<f32>,
    pub dry_base: Option<f32>,
    pub dry_allowed_length: Option<u32>,
    pub dry_sequence_breakers: Option<BreakersField>,
    pub xtc_threshold: Option<f32>,
    pub xtc_probability: Option<f32>,
    pub top_n_sigma: Option<f32>,
    pub dynamic_temperature: Option<bool>,
    pub dynatemp_low: Option<f32>,
    pub dynatemp_high: Option<f32>,
    pub dynatemp_exponent: Option<f32>,
    pub smoothing_factor: Option<f32>,
    pub smoothing_curve: Option<f32>,
    pub mirostat_mode: Option<u32>,
    pub mirostat_tau: Option<f32>,
    pub mirostat_eta: Option<f32>,
    pub temperature_last: Option<bool>,
    /// text-generation-webui's sampler order: its text (one name a line)
    /// or a list of names.
    pub sampler_priority: Option<BreakersField>,
    pub auto_max_new_tokens: Option<bool>,
    pub stop: Option<StopField>,
    pub custom_stopping_strings: Option<StopField>,
    pub n: Option<u32>,
    /// Chat: `true`/`false`; completions: how many alternatives per token.
    pub logprobs: Option<serde_json::Value>,
    pub top_logprobs: Option<u32>,
    pub stream: bool,
    pub stream_options: Option<StreamOptions>,
}

/// A list of strings as text-generation-webui's text or as a JSON list:
/// DRY's sequence breakers, the sampler order.
/// DRY's sequence breakers: text-generation-webui's text (`"\\n", ":"`)
/// or llama-server's list of strings.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum BreakersField {
    Text(String),
    List(Vec<String>),
}

impl BreakersField {
    /// The breakers in text-generation-webui's text form.
    pub fn into_text(self) -> String {
        match self {
            BreakersField::Text(t) => t,
            BreakersField::List(list) => list
                .iter()
                .map(|b| serde_json::Value::from(b.as_str()).to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// Message content: a string, or a list of parts of which only text is
/// supported.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Clone, Debug, Deserialize)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub text: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RequestMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<Content>,
    /// An assistant message's calls, sent back with the history.
    #[serde(default)]
    pub tool_calls: Option<Vec<RequestToolCall>>,
    /// Which call a `tool` message answers.
    #[serde(default)]
    pub tool_call_id: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct RequestToolCall {
    #[serde(default)]
    pub id: Option<String>,
    pub function: CalledFunction,
}

#[derive(Clone, Debug, Deserialize)]
pub struct CalledFunction {
    pub name: String,
    /// JSON text, as OpenAI sends it.
    #[serde(default)]
    pub arguments: Option<String>,
}

/// What the reply may or must be: tools to call, a JSON shape, a grammar.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct OutputFields {
    /// `null` is no tools, as OpenAI reads it (the `openai` SDK sends
    /// `tools=None` as null).
    #[serde(deserialize_with = "null_is_empty")]
    pub tools: Vec<ToolDefinition>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub response_format: Option<ResponseFormat>,
    /// text-generation-webui's GBNF grammar.
    pub grammar_string: Option<String>,
}

/// A function the model may call (`{"type": "function", "function": …}`),
/// kept as given for the chat template.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ToolDefinition {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionDefinition,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct FunctionDefinition {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The arguments' JSON schema; none means no arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// `"none"`, `"auto"`, `"required"`, or one named function.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    Mode(String),
    Function { function: NamedFunction },
}

#[derive(Clone, Debug, Deserialize)]
pub struct NamedFunction {
    pub name: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaFormat },
}

#[derive(Clone, Debug, Deserialize)]
pub struct JsonSchemaFormat {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub schema: Option<serde_json::Value>,
    #[serde(default)]
    pub strict: Option<bool>,
}

/// A chat completion request: each part is read from the same JSON object
/// (see `body.rs`), so an error can name the field at fault.
#[derive(Clone, Debug)]
pub struct ChatCompletionRequest {
    pub messages: Vec<RequestMessage>,
    pub sampling: SamplingFields,
    pub chat: ChatFields,
    pub output: OutputFields,
}

#[derive(Clone, Debug, Deserialize)]
pub struct MessagesField {
    pub messages: Vec<RequestMessage>,
}

/// text-generation-webui's chat extras.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ChatFields {
    pub mode: Option<String>,
    pub character: Option<String>,
    pub name1: Option<String>,
    pub user_name: Option<String>,
    pub name2: Option<String>,
    pub bot_name: Option<String>,
    pub user_bio: Option<String>,
    pub context: Option<String>,
    pub greeting: Option<String>,
    pub instruction_template: Option<String>,
    pub instruction_template_str: Option<String>,
    pub chat_instruct_command: Option<String>,
    #[serde(rename = "continue_")]
    pub continue_last: bool,
    pub chat_template_kwargs: Option<TemplateKwargs>,
    pub reasoning_effort: Option<String>,
}

/// The template variables a request may set (vLLM's and llama-server's
/// `chat_template_kwargs`); others are ignored.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct TemplateKwargs {
    pub enable_thinking: Option<bool>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum PromptField {
    One(String),
    Many(Vec<String>),
}

#[derive(Clone, Debug, Deserialize)]
pub struct PromptOnly {
    pub prompt: PromptField,
}

#[derive(Clone, Debug)]
pub struct CompletionRequest {
    pub prompt: PromptField,
    pub sampling: SamplingFields,
    /// `response_format` and `grammar_string` (tools need a chat).
    pub output: OutputFields,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Usage {
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub total_tokens: u32,
    /// OpenAI's `prompt_tokens_details.cached_tokens`: prompt tokens
    /// whose keys and values came from the cache instead of being read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PromptTokensDetails {
    pub cached_tokens: u32,
}

impl Usage {
    pub fn new(prompt_tokens: u32, completion_tokens: u32) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            prompt_tokens_details: None,
        }
    }

    /// With the prompt tokens the cache gave (for `n` choices, the fewest
    /// any choice had: the prompt was read at least that far once).
    pub fn with_cached(mut self, cached_tokens: u32) -> Self {
        self.prompt_tokens_details = Some(PromptTokensDetails { cached_tokens });
        self
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct AssistantMessage {
    pub role: &'static str,
    /// None (JSON null) when the reply is only tool calls.
    pub content: Option<String>,
    /// The reply's reasoning (`<think>…</think>`), apart from its answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ResponseToolCall>,
}

/// A call in an answer: `{"id", "type": "function", "function": {"name",
/// "arguments"}}`, the arguments as JSON text.
#[derive(Clone, Debug, Serialize)]
pub struct ResponseToolCall {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: ResponseFunction,
}

#[derive(Clone, Debug, Serialize)]
pub struct ResponseFunction {
    pub name: String,
    pub arguments: String,
}

/// A call in a streamed chunk: the first chunk of a call has its id and
/// name, later ones (if any) more of its arguments.
#[derive(Clone, Debug, Serialize)]
pub struct ToolCallDelta {
    pub index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    pub function: FunctionDelta,
}

#[derive(Clone, Debug, Serialize)]
pub struct FunctionDelta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub arguments: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChatChoice {
    pub index: u32,
    pub message: AssistantMessage,
    pub finish_reason: &'static str,
    pub logprobs: Option<ChoiceLogprobs>,
}

/// A chat choice's log-probabilities: one entry per token.
#[derive(Clone, Debug, Serialize)]
pub struct ChoiceLogprobs {
    pub content: Vec<LogprobEntry>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LogprobEntry {
    pub token: String,
    pub logprob: f32,
    pub bytes: Vec<u8>,
    pub top_logprobs: Vec<TopLogprob>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TopLogprob {
    pub token: String,
    pub logprob: f32,
    pub bytes: Vec<u8>,
}

/// The legacy completions format of log-probabilities.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CompletionLogprobs {
    pub tokens: Vec<String>,
    pub token_logprobs: Vec<f32>,
    pub top_logprobs: Vec<serde_json::Map<String, serde_json::Value>>,
    pub text_offset: Vec<usize>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChatCompletion {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub model: String,
    pub choices: Vec<ChatChoice>,
    pub usage: Usage,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallDelta>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    pub finish_reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<ChoiceLogprobs>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ChatCompletionChunk {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub model: String,
    pub choices: Vec<ChunkChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

#[derive(Clone, Debug, Serialize)]
pub struct CompletionChoice {
    pub index: u32,
    pub text: String,
    pub finish_reason: Option<&'static str>,
    pub logprobs: Option<CompletionLogprobs>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Completion {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub model: String,
    pub choices: Vec<CompletionChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ModelObject {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub owned_by: &'static str,
}

#[derive(Clone, Debug, Serialize)]
pub struct ModelList {
    pub object: &'static str,
    pub data: Vec<ModelObject>,
}

/// A list that may be sent as `null`, read as empty.
fn null_is_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}
