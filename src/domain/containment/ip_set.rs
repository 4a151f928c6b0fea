//! AWS WAF IP sets that `block-ip` adds addresses to (`[containment] waf_ip_set_arns`), named by ARN:
//! `arn:aws:wafv2:<region>:<account>:<regional|global>/ipset/<name>/<id>`.

/// An IP set, from its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpSet {
    /// The ARN.
    pub arn: String,
    /// The region its API is called in (`us-east-1` for CloudFront's, scope `global`).
    pub region: String,
    /// Its account.
    pub account: String,
    /// `REGIONAL` or `CLOUDFRONT`.
    pub scope: &'static str,
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: String,
}

impl IpSet {
    /// The IP set of `arn`, or why it is not the ARN of one.
    pub fn parse(arn: &str) -> Result<IpSet, String> {
        let wrong = || {
            format!(
                "{arn:?} is not an AWS WAF IP set ARN (arn:aws:wafv2:<region>:<account>:regional/ipset/<name>/<id>)"
            )
        };
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [prefix, partition, "wafv2", region, account, resource] = parts.as_slice() else { return Err(wrong()) };
        let path: Vec<&str> = resource.split('/').collect();
        let [scope, "ipset", name, id] = path.as_slice() else { return Err(wrong()) };
        let scope = match *scope {
            "regional" => "REGIONAL",
            "global" => "CLOUDFRONT",
            _ => return Err(wrong()),
        };
        let named = |s: &str| {
            (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        };
        let ok = *prefix == "arn"
            && partition.starts_with("aws")
            && !region.is_empty()
            && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && named(name)
            && named(id);
        if !ok {
            return Err(wrong());
        }
        let region = if scope == "CLOUDFRONT" { "us-east-1" } else { region };
        Ok(IpSet {
            arn: arn.to_owned(),
            region: region.to_owned(),
            account: (*account).to_owned(),
            scope,
            name: (*name).to_owned(),
            id: (*id).to_owned(),
        })
    }
}

/// The CIDR block of one address (`/32`, `/128`), as network ACLs and IP sets take it.
pub fn cidr(ip: &str) -> String {
    if ip.contains(':') { format!("{ip}/128") } else { format!("{ip}/32") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_sets_are_named_by_their_arn() {
        let set = IpSet::parse("arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/blocked-by-gd/a1b2-c3d4").unwrap();
        assert_eq!(
            (set.region.as_str(), set.scope, set.name.as_str(), set.id.as_str()),
            ("eu-west-1", "REGIONAL", "blocked-by-gd", "a1b2-c3d4")
        );
        let cloudfront = IpSet::parse("arn:aws:wafv2:us-east-1:123456789012:global/ipset/edge/abc").unwrap();
        assert_eq!(cloudfront.scope, "CLOUDFRONT");
        for bad in [
            "",
            "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/x/y",
            "arn:aws:wafv2:eu-west-1:1234:regional/ipset/x/y",
            "arn:aws:s3:::bucket",
            "arn:aws:wafv2:eu-west-1:123456789012:regional/ipset/x y/z",
            "arn:aws:wafv2:eu-west-1:123456789012:local/ipset/x/y",
        ] {
            assert!(IpSet::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(cidr("198.51.100.7"), "198.51.100.7/32");
        assert_eq!(cidr("2001:db8::1"), "2001:db8::1/128");
    }
}
