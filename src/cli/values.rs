//! How clap reads the flags' values that are not words (the words are `stevedore_base::values`).

/// `auth --duration` as clap reads it: the CLI's one duration grammar, or a bare number of
/// seconds as STS's DurationSeconds (and the aws-cli orb's parameter) takes it, within what STS allows.
pub fn session_duration(text: &str) -> std::result::Result<i32, String> {
    let d = match text.trim().parse::<u64>() {
        Ok(secs) => std::time::Duration::from_secs(secs),
        Err(_) => crate::validate::duration(text)
            .map_err(|e| format!("{e} (STEVEDORE_SESSION_DURATION)"))?,
    };
    let secs = d.as_secs();
    if !(900..=43_200).contains(&secs) || d.subsec_nanos() != 0 {
        return Err(format!("'{text}' is outside 15m to 12h, what STS allows in whole seconds (the role's maximum session duration may be lower) (STEVEDORE_SESSION_DURATION)"));
    }
    Ok(secs as i32)
}
