//! Where an instruction template says a reply is over. A model asked for
//! a reply through a template it was not trained on (Gemma through
//! ChatML, say) writes the template's end-of-turn marker as plain text
//! and goes on with the next turn (`<|im_end|>\n<|im_start|>user…`); the
//! marker's token is not the model's end-of-sequence, so nothing stopped
//! it. text-generation-webui derives stop strings from the template for
//! the same reason; so do we, by rendering a short conversation with
//! markers in it and reading what the template writes around them.

use domain::{ChatMessage, Role};

use super::ChatTemplate;

const USER: &str = "CANDLELIGHTUSERTURN";
const REPLY: &str = "CANDLELIGHTREPLYTURN";

/// The strings that end an assistant turn in `template`: what it writes
/// after a reply (`<|im_end|>`, `<end_of_turn>`, `<|eot_id|>`), or, for a
/// template that closes a turn with whitespace only, the first line of the
/// user's next turn (`### Instruction:`). Empty when the template cannot
/// render a plain user/assistant/user conversation.
pub(super) fn turn_end_strings(template: &ChatTemplate) -> Vec<String> {
    let closing = template
        .render(
            &[
                ChatMessage::new(Role::User, USER),
                ChatMessage::new(Role::Assistant, REPLY),
            ],
            false,
        )
        .ok()
        .and_then(|text| {
            text.split_once(REPLY)
                .map(|(_, after)| after.trim().to_string())
        });
    if let Some(closing) = closing.filter(|c| !c.is_empty()) {
        return vec![first_line(&closing)];
    }
    let between = template
        .render(
            &[
                ChatMessage::new(Role::User, USER),
                ChatMessage::new(Role::Assistant, REPLY),
                ChatMessage::new(Role::User, USER),
            ],
            false,
        )
        .ok()
        .and_then(|text| {
            let (_, after) = text.split_once(REPLY)?;
            let (between, _) = after.split_once(USER)?;
            Some(first_line(between.trim()))
        });
    between.filter(|b| !b.is_empty()).into_iter().collect()
}

/// A model may write the marker and then something other than what the
/// template writes next (another role's header): the first line alone.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ends(source: &str) -> Vec<String> {
        turn_end_strings(&ChatTemplate::compile(source, Some("<s>"), Some("</s>")).unwrap())
    }

    #[test]
    fn chatml_ends_a_turn_with_im_end() {
        let chatml = "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
        assert_eq!(ends(chatml), ["<|im_end|>"]);
    }

    #[test]
    fn llama3_and_gemma_markers_are_found() {
        let llama3 = "{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] | trim + '<|eot_id|>' }}{% endfor %}";
        assert_eq!(ends(llama3), ["<|eot_id|>"]);
        let gemma = "{{ bos_token }}{% for m in messages %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}{{ '<start_of_turn>' + role + '\\n' + m['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}";
        assert_eq!(ends(gemma), ["<end_of_turn>"]);
    }

    #[test]
    fn a_whitespace_closing_stops_at_the_next_user_header() {
        let alpaca = "{% for m in messages %}{% if m['role'] == 'user' %}{{ '### Instruction:\\n' + m['content'] + '\\n\\n' }}{% else %}{{ '### Response:\\n' + m['content'] + '\\n\\n' }}{% endif %}{% endfor %}";
        assert_eq!(ends(alpaca), ["### Instruction:"]);
    }

    #[test]
    fn a_template_that_refuses_the_sample_gives_no_strings() {
        assert!(ends("{{ raise_exception('no') }}").is_empty());
        assert!(ends("{% for m in messages %}{{ m['content'] }}{% endfor %}").is_empty());
    }
}
