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

/// One line: line breaks and other control characters become spaces, so a value can
/// never break the layout it is put in (a bullet list, a table cell).
pub fn single_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
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
    fn single_line_removes_line_breaks() {
        assert_eq!(single_line("a\nb\r\tc"), "a b  c");
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
