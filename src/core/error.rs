//! The one error type of the extension's logic. The PHP glue turns it into a
//! `WeixinException` whose code is WeChat's `errcode` (0 for our own errors).

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WeixinError {
    /// WeChat's `errcode`, or 0 for configuration, transport and format errors.
    pub code: i64,
    pub message: String,
}

impl WeixinError {
    /// A WeChat API error reply.
    pub fn wechat(code: i64, message: impl Into<String>) -> Self {
        WeixinError { code, message: message.into() }
    }

    /// An error of ours: bad settings, transport, unexpected reply.
    pub fn local(message: impl Into<String>) -> Self {
        WeixinError { code: 0, message: message.into() }
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::local(message)
    }

    /// Replaces every occurrence of `secret` in the message: a last guard so
    /// that no upstream echo or library error text can leak it.
    pub fn redact(mut self, secret: &str) -> Self {
        self.message = crate::secret::redact(&self.message, secret);
        self
    }
}

impl fmt::Display for WeixinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for WeixinError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_redacts_its_message() {
        let e = WeixinError::wechat(40125, "invalid appsecret s3cr3tvalue").redact("s3cr3tvalue");
        assert_eq!(e.code, 40125);
        assert_eq!(e.message, "invalid appsecret ********");
    }
}
