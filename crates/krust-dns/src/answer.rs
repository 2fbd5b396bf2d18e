//! One question, one answer: from the cluster's records for names in the zone (and
//! reverse names of service and endpoint addresses), or "forward it" for everything
//! else. Pure, so every rule is tested on hand-built records.

use std::net::IpAddr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use crate::records::{Records, SCHEMA_VERSION};

/// Seconds answers may be cached, as CoreDNS's kubernetes plugin: short, because
/// endpoints come and go.
pub const DEFAULT_TTL: u32 = 5;

/// The UDP payload size we advertise in EDNS answers (the size DNS flag day 2020 chose
/// to avoid fragmentation).
const EDNS_PAYLOAD: u16 = 1232;

/// How many CNAME links the server follows for a client (ExternalName to ExternalName).
pub(crate) const MAX_CHASE: usize = 8;

/// What to do with a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Send this response (it carries the query's id and question).
    Local(Message),
    /// Not ours: relay the query to the upstream resolvers.
    Forward,
}

fn name(text: &str) -> Option<Name> {
    Name::from_ascii(format!("{text}.")).ok()
}

/// A response to `query` with its id, question and flags, as a recursive resolver sets
/// them (RA on, RD echoed), and an EDNS record when the query had one.
pub(crate) fn response_to(query: &Message, code: ResponseCode) -> Message {
    let mut m = Message::error_msg(query.metadata.id, query.metadata.op_code, code);
    m.metadata.recursion_desired = query.metadata.recursion_desired;
    m.metadata.recursion_available = true;
    m.queries = query.queries.clone();
    if query.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        m.set_edns(edns);
    }
    m
}

fn soa(records: &Records, ttl: u32) -> Option<Record> {
    let zone = name(&records.zone)?;
    let mname = name(&format!("ns.dns.{}", records.zone))?;
    let rname = name(&format!("hostmaster.{}", records.zone))?;
    // The last field is the negative-caching time: as short as the answers themselves.
    let data = SOA::new(mname, rname, 1, 7200, 1800, 86400, ttl);
    Some(Record::from_rdata(zone, ttl, RData::SOA(data)))
}

/// Answers `query` from `records` with records living [`DEFAULT_TTL`] seconds.
pub fn answer(records: &Records, query: &Message) -> Answer {
    answer_with_ttl(records, query, DEFAULT_TTL)
}

/// Answers `query` from `records` with records living `ttl` seconds.
pub fn answer_with_ttl(records: &Records, query: &Message, ttl: u32) -> Answer {
    if query.metadata.message_type != MessageType::Query {
        return Answer::Local(response_to(query, ResponseCode::FormErr));
    }
    if query.metadata.op_code != OpCode::Query {
        return Answer::Local(response_to(query, ResponseCode::NotImp));
    }
    let [q] = query.queries.as_slice() else {
        return Answer::Local(response_to(query, ResponseCode::FormErr));
    };
    let asked = q.name.to_ascii().trim_end_matches('.').to_ascii_lowercase();
    let qtype = q.query_type;
    let ours = records.in_zone(&asked);
    let reverse = asked.ends_with(".in-addr.arpa") || asked.ends_with(".ip6.arpa");
    let ours_reverse = reverse && records.ptr.contains_key(&asked);
    if !ours && !ours_reverse {
        return Answer::Forward;
    }
    if !records.synced {
        return Answer::Local(response_to(query, ResponseCode::ServFail));
    }
    if !matches!(q.query_class, DNSClass::IN | DNSClass::ANY) {
        return Answer::Local(response_to(query, ResponseCode::Refused));
    }
    // Answers are owned by the name as asked, in the client's letter case.
    let owner = q.name.clone();
    let mut m = response_to(query, ResponseCode::NoError);
    m.metadata.authoritative = true;
    let wants = |t: RecordType| qtype == t || qtype == RecordType::ANY;
    let record = |data: RData| Record::from_rdata(owner.clone(), ttl, data);

    if let Some(target) = records.ptr.get(&asked).filter(|_| !ours) {
        if wants(RecordType::PTR)
            && let Some(t) = name(target)
        {
            m.add_answer(record(RData::PTR(PTR(t))));
        }
        return Answer::Local(m);
    }
    if let Some(target) = records.cname.get(&asked) {
        // A CNAME stands for every type; the server follows it for A, AAAA and the rest.
        if let Some(t) = name(target) {
            m.add_answer(record(RData::CNAME(CNAME(t))));
        }
        return Answer::Local(m);
    }
    for ip in records.addresses(&asked) {
        let data = match ip {
            IpAddr::V4(v4) if wants(RecordType::A) => RData::A(A(v4)),
            IpAddr::V6(v6) if wants(RecordType::AAAA) => RData::AAAA(AAAA(v6)),
            _ => continue,
        };
        m.add_answer(record(data));
    }
    if wants(RecordType::SRV)
        && let Some(targets) = records.srv.get(&asked)
    {
        add_srv(&mut m, records, &owner, targets, ttl);
    }
    if asked == records.zone {
        if wants(RecordType::SOA)
            && let Some(s) = soa(records, ttl)
        {
            m.add_answer(s);
        }
        if wants(RecordType::NS)
            && let Some(ns) = name(&format!("ns.dns.{}", records.zone))
        {
            m.add_answer(record(RData::NS(NS(ns.clone()))));
            add_addresses(&mut m, records, &ns, ttl);
        }
    }
    if wants(RecordType::TXT) && asked == format!("dns-version.{}", records.zone) {
        m.add_answer(record(RData::TXT(TXT::new(vec![SCHEMA_VERSION.to_string()]))));
    }
    if m.answers.is_empty() {
        if !records.exists(&asked) {
            m.metadata.response_code = ResponseCode::NXDomain;
        }
        if let Some(s) = soa(records, ttl) {
            m.add_authority(s);
        }
    }
    Answer::Local(m)
}

/// SRV answers for `targets`, weighted equally as CoreDNS does, with the targets'
/// addresses as additionals so clients need not ask again.
fn add_srv(m: &mut Message, records: &Records, owner: &Name, targets: &[crate::SrvTarget], ttl: u32) {
    let weight = u16::try_from(100 / targets.len().max(1)).unwrap_or(1).max(1);
    for t in targets {
        let Some(host) = name(&t.host) else { continue };
        let srv = SRV::new(0, weight, t.port, host.clone());
        m.add_answer(Record::from_rdata(owner.clone(), ttl, RData::SRV(srv)));
        add_addresses(m, records, &host, ttl);
    }
}

/// `host`'s addresses as additional records.
fn add_addresses(m: &mut Message, records: &Records, host: &Name, ttl: u32) {
    let key = host.to_ascii().trim_end_matches('.').to_ascii_lowercase();
    for ip in records.addresses(&key) {
        let data = match ip {
            IpAddr::V4(v4) => RData::A(A(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
        };
        m.add_additional(Record::from_rdata(host.clone(), ttl, data));
    }
}

/// The question a client still needs answered after a local answer: an answer that
/// ends in a CNAME (an ExternalName service), asked for another type, gets the
/// target's records of that type appended, as CoreDNS does, so stub resolvers that do
/// not chase CNAMEs themselves (glibc, musl) get addresses.
pub(crate) fn cname_to_follow(response: &Message) -> Option<Query> {
    let question = response.queries.first()?;
    if matches!(question.query_type, RecordType::CNAME | RecordType::ANY)
        || response.metadata.response_code != ResponseCode::NoError
    {
        return None;
    }
    let RData::CNAME(CNAME(target)) = &response.answers.last()?.data else {
        return None;
    };
    let mut q = question.clone();
    q.set_name(target.clone());
    Some(q)
}

#[cfg(test)]
mod tests;
