//! `phx-nodes list`: the cluster's instances as EC2 sees them now, a table
//! for people and a JSON array for `jq`.

use crate::observed::Have;
use phx_core::status::NodeRole;
use serde::Serialize;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row<'a> {
    pub role: &'a str,
    #[serde(flatten)]
    pub have: &'a Have,
}

pub fn rows<'a>(cluster: &str, haves: &'a [Have]) -> Vec<Row<'a>> {
    let mut rows: Vec<Row<'a>> = haves
        .iter()
        .map(|h| Row {
            role: NodeRole::parse_name(cluster, &h.name).map_or("-", |(r, _)| r.as_str()),
            have: h,
        })
        .collect();
    rows.sort_by_key(|r| {
        let (role, i) = NodeRole::parse_name(cluster, &r.have.name)
            .map_or((2, 0), |(r, i)| (u8::from(r.as_str() == "worker"), i));
        (role, i, r.have.name.clone())
    });
    rows
}

pub fn table(rows: &[Row<'_>]) -> String {
    let head = [
        "NAME",
        "ROLE",
        "ZONE",
        "INSTANCE",
        "TYPE",
        "PRIVATE IP",
        "PUBLIC IP",
        "STATE",
    ];
    let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.have.name.clone(),
                r.role.to_string(),
                dash(&r.have.zone),
                r.have.instance_id.clone(),
                dash(&r.have.instance_type),
                dash(&r.have.private_ip),
                dash(&r.have.public_ip),
                r.have.state.clone(),
            ]
        })
        .collect();
    phx_core::table::render(&head, &lines, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn have(name: &str, ip: Option<&str>) -> Have {
        Have {
            name: name.into(),
            instance_id: "i-0123".into(),
            state: "running".into(),
            zone: Some("us-east-1a".into()),
            instance_type: Some("t3.large".into()),
            image_id: None,
            private_ip: Some("10.0.0.5".into()),
            private_dns: None,
            public_ip: ip.map(String::from),
            launched: None,
            http_tokens: None,
        }
    }

    #[test]
    fn control_plane_first_workers_by_number_in_aligned_columns() {
        let haves = [
            have("p-worker-10", None),
            have("p-worker-2", Some("3.3.3.3")),
            have("p-control-plane-1", Some("1.2.3.4")),
        ];
        let t = table(&rows("p", &haves));
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[0].starts_with("NAME  ") && lines[0].ends_with("STATE"),
            "{t}"
        );
        assert!(
            lines[1].starts_with("p-control-plane-1  control-plane  us-east-1a"),
            "{t}"
        );
        assert!(lines[2].starts_with("p-worker-2 "), "{t}");
        assert!(lines[3].contains(" -  "), "no public IP is a dash: {t}");
        let col = |l: &str| l.find("us-east-1a");
        assert_eq!(col(lines[1]), col(lines[3]), "aligned:\n{t}");
    }
}
