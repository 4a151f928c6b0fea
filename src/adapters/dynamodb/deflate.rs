//! Evidence bodies deflated for DynamoDB (raw deflate, so any zlib reads them back): a finding of 4 KB keeps
//! in about 1.6 KB, and its write costs 2 units rather than 5.
//!
//! The compressor is made once per thread and reset for each body: a fresh one allocates and zeroes about
//! 300 KB (its window and hash chains), which `perf` showed as a tenth of the daemon's CPU per finding in
//! malloc, memset and memmove, for 4 KB of input.

use std::cell::RefCell;

use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress_to_output, create_comp_flags_from_zip_params,
};

/// Deflate's fastest level: JSON keeps nearly as small as at its default, for a fifth of the CPU.
const LEVEL: i32 = 1;
/// Raw deflate: no zlib header or checksum (the evidence's SHA-256 proves it whole).
const RAW_WINDOW_BITS: i32 = -15;

thread_local! {
    static COMPRESSOR: RefCell<Box<CompressorOxide>> =
        RefCell::new(Box::new(CompressorOxide::new(create_comp_flags_from_zip_params(LEVEL, RAW_WINDOW_BITS, 0))));
}

/// `body` deflated; `None` if the compressor failed (the body is then kept as it is).
pub(super) fn deflate(body: &[u8]) -> Option<Vec<u8>> {
    COMPRESSOR.with(|cell| {
        let mut compressor = cell.try_borrow_mut().ok()?;
        compressor.reset();
        let mut out = Vec::with_capacity(body.len() / 2);
        let (status, _) = compress_to_output(&mut compressor, body, TDEFLFlush::Finish, |chunk| {
            out.extend_from_slice(chunk);
            true
        });
        (status == TDEFLStatus::Done).then_some(out)
    })
}

/// A deflated body inflated, refusing to grow past `limit` bytes (a corrupt or hostile item).
pub(super) fn inflate(deflated: &[u8], limit: usize) -> Result<Vec<u8>, miniz_oxide::inflate::DecompressError> {
    miniz_oxide::inflate::decompress_to_vec_with_limit(deflated, limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_through_one_reused_compressor() {
        let finding = std::fs::read("tests/fixtures/findings/ec2-ssh-bruteforce-low.json").unwrap();
        let other = std::fs::read("tests/fixtures/findings/s3-bucket-exfil.json").unwrap();
        // Each body comes back whole whatever the compressor deflated before it.
        for body in [&finding[..], &other[..], b"", &finding[..], &vec![7u8; 300 * 1024][..]] {
            let deflated = deflate(body).unwrap();
            assert_eq!(inflate(&deflated, 2 * 1024 * 1024).unwrap(), body);
        }
        let deflated = deflate(&finding).unwrap();
        assert!(deflated.len() < finding.len() / 2, "{} of {}", deflated.len(), finding.len());
        // The same bytes as a fresh compressor's: nothing of an earlier body leaks into a later one.
        assert_eq!(deflated, miniz_oxide::deflate::compress_to_vec(&finding, LEVEL as u8));
        assert!(inflate(&deflate(&vec![0u8; 4096]).unwrap(), 1024).is_err(), "the limit holds");
    }
}
