//! What `wx.config()` takes to sign a page for the JS-SDK: the signature
//! of the official algorithm (JS-SDK documentation, appendix 1), and nonces.
//! Pure logic; the ticket comes from the token rules (`tickets`).

/// The signature of `url` for `ticket`: the SHA-1 hex of
/// `jsapi_ticket=T&noncestr=N&timestamp=S&url=U`, where U is the page's
/// URL without its `#…` part, not escaped.
pub fn signature(ticket: &str, nonce: &str, timestamp: u64, url: &str) -> String {
    let page = page_url(url);
    hex(&sha1(format!("jsapi_ticket={ticket}&noncestr={nonce}&timestamp={timestamp}&url={page}").as_bytes()))
}

/// The URL as signed: everything before the first `#`.
pub fn page_url(url: &str) -> &str {
    url.split_once('#').map_or(url, |(page, _)| page)
}

/// Characters of a nonce: letters and digits.
const ALPHANUMERIC: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Length of a nonce (WeChat takes up to 32).
pub const NONCE_LEN: usize = 16;

/// A nonce of `NONCE_LEN` letters and digits from `random` bytes: each byte
/// below the largest multiple of 62 picks one (no bias); `random` is asked
/// for more bytes until there are enough.
pub fn nonce<E>(mut random: impl FnMut(&mut [u8]) -> Result<(), E>) -> Result<String, E> {
    let mut out = String::with_capacity(NONCE_LEN);
    let mut bytes = [0u8; 32];
    while out.len() < NONCE_LEN {
        random(&mut bytes)?;
        for &byte in &bytes {
            if out.len() < NONCE_LEN && usize::from(byte) < 62 * 4 {
                out.push(char::from(ALPHANUMERIC[usize::from(byte) % 62]));
            }
        }
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-1 (FIPS 180-4, section 6.1). Only for the JS-SDK signature, which
/// WeChat defines with it; nothing here relies on its collision resistance.
pub fn sha1(message: &[u8]) -> [u8; 20] {
    let mut state: [u32; 5] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0];
    let bit_length = (message.len() as u64).wrapping_mul(8);
    let mut padded = message.to_vec();
    padded.push(0x80);
    while padded.len() % 64 != 56 {
        padded.push(0);
    }
    padded.extend_from_slice(&bit_length.to_be_bytes());
    for block in padded.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = state;
        for (i, &word) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(word);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (s, v) in state.iter_mut().zip([a, b, c, d, e]) {
            *s = s.wrapping_add(v);
        }
    }
    let mut digest = [0u8; 20];
    for (chunk, s) in digest.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&s.to_be_bytes());
    }
    digest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_matches_the_standard_vectors() {
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(hex(&sha1(b"abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            hex(&sha1(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1"
        );
        assert_eq!(hex(&sha1(&vec![b'a'; 1_000_000])), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    }

    #[test]
    fn the_signature_of_the_documentation_example() {
        // JS-SDK documentation, appendix 1.
        let ticket = "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg";
        let signed = signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value");
        assert_eq!(signed, "0f9de62fce790f9a083d5c99e95740ceb90c27ed");
        let with_fragment =
            signature(ticket, "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value#x=1#y");
        assert_eq!(with_fragment, signed, "the #… part is not signed");
    }

    #[test]
    fn nonces_are_alphanumeric_of_the_set_length_and_unbiased() {
        let mut counter = 0u8;
        let nonce = nonce(|bytes| {
            for b in bytes.iter_mut() {
                *b = counter;
                counter = counter.wrapping_add(17);
            }
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(nonce.len(), NONCE_LEN);
        assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
        // Bytes of 248 and above are skipped, not folded onto the first letters.
        let mut calls = 0;
        let skipped = super::nonce(|bytes| {
            calls += 1;
            bytes.fill(if calls == 1 { 255 } else { 62 + 1 });
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!((skipped.as_str(), calls), ("BBBBBBBBBBBBBBBB", 2));
    }
}
