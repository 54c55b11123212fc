//! "Did you mean …?" hints for unknown names.

/// Returns ` (did you mean 'x'?)` naming the candidate closest to `name`, or
/// an empty string when nothing is close.
pub(crate) fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let wanted = name.to_lowercase();
    let best = candidates
        .map(|c| (strsim::osa_distance(&wanted, &c.to_lowercase()), c))
        .filter(|(distance, c)| *distance <= (c.len().max(wanted.len()) / 3).max(1))
        .min();
    match best {
        Some((_, c)) => format!(" (did you mean '{c}'?)"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["threads", "sync", "processes"];
        assert_eq!(
            did_you_mean("thread", names.into_iter()),
            " (did you mean 'threads'?)"
        );
        assert_eq!(did_you_mean("gpu", names.into_iter()), "");
    }
}
