//! Measuring, cutting and cleaning text: to the limits chat services set, and for quoting
//! a bad value back in an error without flooding it.
//!
//! Slack and Discord count "characters"; we count UTF-16 code units (an emoji is two),
//! which is never less than the code points either service could mean, so a text that
//! fits by our count fits by theirs.

/// The length of `text` as we count it against a service's limit.
pub fn units(text: &str) -> usize {
    text.encode_utf16().count()
}

/// Bidirectional overrides and isolates, and zero-width characters: invisible, yet they
/// can reorder or hide what a reader sees (a "Trojan Source" line).
pub fn is_deceptive(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// One line: line breaks and other control characters (C0, DEL, C1) become spaces, and
/// invisible reordering or zero-width characters are dropped, so a value can never break
/// or disguise the layout it is put in (a bullet list, a table cell).
pub fn single_line(text: &str) -> String {
    text.chars()
        .filter(|c| !is_deceptive(*c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Text safe to print on a terminal: control characters (but tab), DEL, C1 and the
/// invisible reordering and zero-width characters are shown as `\u{1b}` escapes, so
/// nothing from AWS or Git can move the cursor, retitle the window or forge a line.
pub fn visible(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        if (c.is_control() && c != '\t') || is_deceptive(c) {
            shown.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
        } else {
            shown.push(c);
        }
    }
    shown
}

/// `&`, `<` and `>` as HTML entities: the control characters of Slack's mrkdwn, and all
/// that Google Chat's card HTML needs escaped, so a value can open no tag, link or
/// mention.
pub fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `text` cut to at most `limit` units, ending with "…" when anything was cut.
pub fn clip(text: &str, limit: usize) -> String {
    if units(text) <= limit {
        return text.to_owned();
    }
    let mut cut = String::new();
    let mut used = 0;
    let room = limit.saturating_sub(1);
    for c in text.chars() {
        let width = c.len_utf16();
        if used + width > room {
            break;
        }
        used += width;
        cut.push(c);
    }
    if limit > 0 {
        cut.push('…');
    }
    cut
}

/// `text` cut to at most `limit` units like [`clip`], after `mend` repaired what the cut
/// broke in the text's markup (half an entity, a dangling escape) before the "…".
pub fn cut_mended(text: &str, limit: usize, mend: impl Fn(&mut String)) -> String {
    if units(text) <= limit {
        return text.to_owned();
    }
    let mut cut = clip(text, limit.saturating_sub(1));
    cut.pop();
    mend(&mut cut);
    cut.push('…');
    cut
}

/// Appends lines to a text while they fit in `limit` units, then says how many were
/// left out with "…and N more" (which always fits: room for it is kept).
pub fn fit_lines(heading: &str, lines: &[String], total: usize, limit: usize) -> String {
    let mut text = heading.to_owned();
    let mut shown = 0;
    for (index, line) in lines.iter().enumerate() {
        let left_after = total - index - 1;
        let reserve = if left_after > 0 {
            units(&more(left_after)) + 1
        } else {
            0
        };
        if units(&text) + 1 + units(line) + reserve > limit {
            break;
        }
        text.push('\n');
        text.push_str(line);
        shown += 1;
    }
    if shown < total {
        text.push('\n');
        text.push_str(&more(total - shown));
    }
    text
}

/// `text` cut to at most `limit` characters, plainly (no "…"): for values cut at the
/// length an API model allows.
pub fn truncate_chars(text: &str, limit: usize) -> String {
    // No longer in bytes than the limit, so no longer in characters: the common case,
    // and it needs no walk over the text.
    if text.len() <= limit {
        return text.to_owned();
    }
    match text.char_indices().nth(limit) {
        Some((index, _)) => text[..index].to_owned(),
        None => text.to_owned(),
    }
}

/// A value quoted back in an error: at most `limit` characters, on one line.
pub fn preview(value: &str, limit: usize) -> String {
    single_line(&clip(value, limit))
}

/// "…and 3 more".
pub fn more(count: usize) -> String {
    format!("…and {count} more")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_html_neutralises_tags_mentions_and_links() {
        assert_eq!(
            escape_html("<!channel> & <@U123|x> <users/all> &amp;"),
            "&lt;!channel&gt; &amp; &lt;@U123|x&gt; &lt;users/all&gt; &amp;amp;"
        );
    }

    #[test]
    fn emoji_count_as_two_units() {
        assert_eq!(units("ab"), 2);
        assert_eq!(units("❌"), 1);
        assert_eq!(units("🔄"), 2);
    }

    #[test]
    fn clip_marks_the_cut_and_stays_inside_the_limit() {
        assert_eq!(clip("hello", 5), "hello");
        assert_eq!(clip("hello world", 6), "hello…");
        assert_eq!(units(&clip(&"🔄".repeat(10), 7)), 7);
        assert_eq!(clip("anything", 0), "");
    }

    #[test]
    fn single_line_removes_line_breaks_and_invisible_reordering() {
        assert_eq!(single_line("a\nb\r\tc"), "a b  c");
        assert_eq!(single_line("a\u{202E}b\u{200B}c\u{85}d"), "abc d");
    }

    #[test]
    fn visible_shows_what_a_terminal_would_obey() {
        assert_eq!(visible("a\u{1b}]0;pwned\u{7}b"), "a\\u{1b}]0;pwned\\u{7}b");
        assert_eq!(
            visible("x\ty\u{7f}\u{9b}\u{202e}"),
            "x\ty\\u{7f}\\u{9b}\\u{202e}"
        );
        assert_eq!(visible("plain ❌ text"), "plain ❌ text");
    }

    #[test]
    fn fit_lines_counts_what_it_leaves_out() {
        let lines: Vec<String> = (0..5).map(|i| format!("line {i}")).collect();
        let text = fit_lines("Heading", &lines, 7, 40);
        assert_eq!(text, "Heading\nline 0\nline 1\nline 2\n…and 4 more");
        assert_eq!(units(&text), 40);
        let all = fit_lines("Heading", &lines, 5, 1000);
        assert_eq!(all.lines().count(), 6);
        assert!(!all.contains("more"));
    }
}
