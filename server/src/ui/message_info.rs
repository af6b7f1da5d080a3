//! The numbers a chat keeps with its messages, shown when the pointer
//! rests on one: a reply's length and speed, a sent message's time, length
//! and the prompt its reply read.

use app::types::{GenerationStats, LoggedMessage, Placement, Role};
use domain::{PromptRead, ReplyInfo, SentInfo};

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A reply's numbers, from its engine statistics.
pub fn reply_info(stats: &GenerationStats, version: usize) -> ReplyInfo {
    ReplyInfo {
        version,
        tokens: stats.completion_tokens,
        decitokens_per_second: (stats.decode_tokens_per_second * 10.0).round() as u32,
        first_token_ms: stats.time_to_first_token_ms.round() as u32,
        finished_at_ms: now_ms(),
    }
}

/// Marks the shown version of `message` as sent now, `tokens` long.
pub fn mark_sent(message: &mut LoggedMessage, tokens: Option<u32>) {
    message.sent_info = Some(SentInfo {
        version: message.current,
        sent_at_ms: now_ms(),
        tokens,
        prompt: None,
    });
}

/// Keeps with the user message a new reply answers how that reply's
/// prompt was read. `messages` ends with the reply; a continued reply
/// (`Extend`) read no new message of the user's.
pub fn note_prompt(messages: &mut [LoggedMessage], target: Placement, stats: &GenerationStats) {
    if !matches!(target, Placement::NewReply | Placement::NewVersion) {
        return;
    }
    let Some([asked, reply]) = messages.last_chunk_mut::<2>() else {
        return;
    };
    if asked.role != Role::User || reply.role != Role::Assistant {
        return;
    }
    if let Some(info) = asked.shown_sent_info_mut() {
        info.prompt = Some(PromptRead {
            tokens: stats.prompt_tokens,
            reused: stats.cached_tokens,
            decitokens_per_second: (stats.prompt_tokens_per_second * 10.0).round() as u32,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> GenerationStats {
        GenerationStats {
            prompt_tokens: 120,
            cached_tokens: 100,
            completion_tokens: 7,
            time_to_first_token_ms: 80.4,
            prompt_tokens_per_second: 250.04,
            decode_tokens_per_second: 40.0,
        }
    }

    fn chat() -> Vec<LoggedMessage> {
        let mut asked = LoggedMessage::new(Role::User, "Hi");
        mark_sent(&mut asked, Some(2));
        vec![asked, LoggedMessage::new(Role::Assistant, "Hello")]
    }

    #[test]
    fn a_new_reply_notes_its_prompt_on_the_message_it_answers() {
        for target in [Placement::NewReply, Placement::NewVersion] {
            let mut m = chat();
            note_prompt(&mut m, target, &stats());
            let info = m[0].shown_sent_info().unwrap();
            assert_eq!(info.tokens, Some(2));
            let read = info.prompt.as_ref().unwrap();
            assert_eq!((read.tokens, read.reused), (120, 100));
            assert_eq!(read.decitokens_per_second, 2500);
        }
    }

    #[test]
    fn a_continued_reply_or_another_version_leaves_the_numbers() {
        let mut m = chat();
        note_prompt(&mut m, Placement::Extend, &stats());
        assert!(m[0].sent_info.as_ref().unwrap().prompt.is_none());
        // The user switched to a version sent before numbers were kept.
        let mut m = chat();
        m[0].versions.push("Hey".into());
        m[0].current = 1;
        note_prompt(&mut m, Placement::NewVersion, &stats());
        assert!(m[0].sent_info.as_ref().unwrap().prompt.is_none());
        assert!(m[0].shown_sent_info().is_none());
    }
}
