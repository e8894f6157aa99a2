// The metadata labvirt writes into a domain and reads back (ParseNodeMetadata and its round trips,
// hostile text, foreign or malformed XML, external entities) and LivePtyPath.
#include <tuple>

#include "gtest/gtest.h"
#include "providers/domain_xml.h"
#include "tests/unit/providers/domain_spec_fixture.h"

namespace labvirt::providers {
namespace {

using testing::Has;
using testing::Kind;
using testing::Spec;

TEST(DomainXmlTest, HostileMetadataTextRoundTrips) {
  DomainSpec s = Spec();
  s.image = "a'b\"c<d>&e";
  s.readiness_detail = "</labvirt:readiness><x>";
  s.overrides_json = R"({"memory_mb": 4096, "q": "\"<&>"})";
  s.links = {{"Gi0/1", "l<1>&'\""}};
  auto d = BuildDomain(s);
  ASSERT_TRUE(d.ok());
  auto md = ParseNodeMetadata(d->xml);
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->image, s.image);
  EXPECT_EQ(md->readiness_detail, s.readiness_detail);
  EXPECT_EQ(md->overrides_json, s.overrides_json);
  EXPECT_EQ(md->nics[1].link, "l<1>&'\"");
}

TEST(DomainXmlTest, MetadataRoundTrip) {
  DomainSpec s = Spec();
  s.kind.management_nic = true;
  s.kind.management_interface = "mgmt0";
  s.kind.reserved_nics = 1;
  s.links = {{"Gi0/1", "L7"}};
  s.desired_state = "stopped";
  s.readiness = "ready";
  s.readiness_detail = "matched login:";
  auto d = BuildDomain(s);
  ASSERT_TRUE(d.ok());
  auto md = ParseNodeMetadata(d->xml);
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->lab, "lab1");
  EXPECT_EQ(md->node, "r1");
  EXPECT_EQ(md->kind, "test");
  EXPECT_EQ(md->tag, s.tag);
  EXPECT_EQ(md->image, "iosv.qcow2");
  EXPECT_EQ(md->desired_state, "stopped");
  EXPECT_EQ(md->readiness, "ready");
  EXPECT_EQ(md->readiness_detail, "matched login:");
  ASSERT_EQ(md->nics.size(), d->metadata.nics.size());
  for (size_t i = 0; i < md->nics.size(); ++i) {
    EXPECT_EQ(md->nics[i].role, d->metadata.nics[i].role);
    EXPECT_EQ(md->nics[i].index, d->metadata.nics[i].index);
    EXPECT_EQ(md->nics[i].tap, d->metadata.nics[i].tap);
    EXPECT_EQ(md->nics[i].mac, d->metadata.nics[i].mac);
    EXPECT_EQ(md->nics[i].link, d->metadata.nics[i].link);
    EXPECT_EQ(md->nics[i].interface, d->metadata.nics[i].interface);
  }
  // As libvirt returns it: another prefix for the same namespace still parses.
  std::string relabelled = d->xml;
  for (size_t p; (p = relabelled.find("labvirt:")) != std::string::npos;)
    relabelled.replace(p, 8, "lv:");
  for (size_t p; (p = relabelled.find("xmlns:labvirt")) != std::string::npos;)
    relabelled.replace(p, 13, "xmlns:lv");
  auto md2 = ParseNodeMetadata(relabelled);
  ASSERT_TRUE(md2.ok()) << md2.status().ToString();
  EXPECT_EQ(md2->node, "r1");
}

// Issue 13: a node's metadata names the labvirt instance that owns it; metadata written before
// instances (no <instance>) belongs to the default instance.
TEST(DomainXmlTest, InstanceRoundTripsAndOldMetadataIsTheDefaultInstance) {
  DomainSpec s = Spec();
  s.instance = "lab-b";
  auto d = BuildDomain(s);
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(Has(d->xml, "<labvirt:instance>lab-b</labvirt:instance>")) << d->xml;
  auto md = ParseNodeMetadata(d->xml);
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->instance, "lab-b");

  std::string old = RenderNodeMetadata(d->metadata);
  const std::string end_tag = "</labvirt:instance>";
  size_t from = old.find("<labvirt:instance>");
  ASSERT_NE(from, std::string::npos) << old;
  old.erase(from, old.find(end_tag) + end_tag.size() - from);
  ASSERT_FALSE(Has(old, "instance")) << old;
  auto legacy = ParseNodeMetadata("<domain><metadata>" + old + "</metadata></domain>");
  ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
  EXPECT_EQ(legacy->instance, kDefaultInstance);

  std::string hostile = RenderNodeMetadata(d->metadata);
  hostile.replace(hostile.find(">lab-b<"), 7, ">a b<");
  EXPECT_FALSE(ParseNodeMetadata("<domain><metadata>" + hostile + "</metadata></domain>").ok());
  s.instance = "x/y";
  EXPECT_FALSE(BuildDomain(s).ok());
}

TEST(DomainXmlTest, LinkCarrierDownRoundTripsAndBadStateIsRefused) {
  DomainSpec s = Spec();
  s.links = {{"Gi0/1", "L7"}};
  auto d = BuildDomain(s);
  ASSERT_TRUE(d.ok());
  NodeMetadata meta = d->metadata;
  meta.nics[1].link_down = true;
  std::string rendered = RenderNodeMetadata(meta);
  auto md = ParseNodeMetadata("<domain><metadata>" + rendered + "</metadata></domain>");
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_TRUE(md->nics[1].link_down);
  EXPECT_FALSE(md->nics[0].link_down);
  std::string bad = rendered;
  bad.replace(bad.find("link-state='down'"), 17, "link-state='sideways'");
  auto refused = ParseNodeMetadata("<domain><metadata>" + bad + "</metadata></domain>");
  EXPECT_NE(refused.status().message().find("link-state='sideways' is not up or down"),
            std::string::npos)
      << refused.status().ToString();
}

TEST(DomainXmlTest, ManagementAddressesAndForwardsRoundTripAndBadForwardsAreRefused) {
  DomainSpec s = Spec();
  s.mgmt = {"10.250.3.10/24",   "10.250.3.1", "fd6c:7600:0:3::a/64",
            "fd6c:7600:0:3::1", true,         {{"tcp", 2201, 22}, {"udp", 1161, 161}}};
  auto d = BuildDomain(s);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(Has(d->xml, "<labvirt:mgmt ipv4='10.250.3.10/24' gateway4='10.250.3.1'"));
  auto md = ParseNodeMetadata(d->xml);
  ASSERT_TRUE(md.ok()) << md.status().ToString();
  EXPECT_EQ(md->mgmt, s.mgmt);
  // Without a segment nothing is written, and nothing is read back.
  auto plain = BuildDomain(Spec());
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(Has(plain->xml, "labvirt:mgmt"));
  EXPECT_EQ(ParseNodeMetadata(plain->xml)->mgmt, MgmtMetadata{});
  for (auto [from, to, why] : {std::tuple{"protocol='udp'", "protocol='sctp'", "is not tcp or udp"},
                               std::tuple{"host-port='2201'", "host-port='70000'", "1..65535"},
                               std::tuple{"port='22'", "port='x'", "is not a non-negative"}}) {
    std::string bad = d->xml;
    bad.replace(bad.find(from), std::string(from).size(), to);
    auto refused = ParseNodeMetadata(bad);
    EXPECT_NE(refused.status().message().find(why), std::string::npos)
        << refused.status().ToString();
  }
}

TEST(DomainXmlTest, ARedefinitionKeepsTheLinkStateOfItsNics) {
  DomainSpec s = Spec();
  s.links = {{"Gi0/1", "L7"}};
  s.nic_link_state["1"] = {true, "rate_kbit=200"};
  auto d = BuildDomain(s);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->metadata.nics[1].link_down);
  EXPECT_EQ(d->metadata.nics[1].impairment, "rate_kbit=200");
  EXPECT_FALSE(d->metadata.nics[0].link_down);
  auto md = ParseNodeMetadata(d->xml);
  ASSERT_TRUE(md.ok());
  EXPECT_EQ(md->nics[1].impairment, "rate_kbit=200") << "in the definition libvirt keeps";
  EXPECT_TRUE(md->nics[1].link_down);
}

TEST(DomainXmlTest, ParseRefusesForeignAndMalformed) {
  EXPECT_EQ(ParseNodeMetadata("<domain><name>x</name></domain>").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(
      ParseNodeMetadata("<domain><metadata><a:node xmlns:a='http://other/'/></metadata></domain>")
          .status()
          .code(),
      StatusCode::kNotFound);
  EXPECT_EQ(ParseNodeMetadata("<domain><metadata>").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseNodeMetadata("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseNodeMetadata("<network/>").status().code(), StatusCode::kInvalidArgument);
  const std::string ns = "xmlns:l='https://labvirt.dev/xmlns/node/1'";
  auto md = [&](const std::string& body, const std::string& attrs = "version='1'") {
    return ParseNodeMetadata("<domain><metadata><l:node " + ns + " " + attrs + ">" + body +
                             "</l:node></metadata></domain>");
  };
  std::string ok_body = "<l:lab>a</l:lab><l:name>b</l:name><l:kind>k</l:kind><l:tag>t</l:tag>";
  EXPECT_TRUE(md(ok_body).ok());
  EXPECT_NE(md("<l:lab>a</l:lab>").status().message().find("<name> is missing"), std::string::npos);
  EXPECT_NE(md(ok_body, "version='2'").status().message().find("version 2"), std::string::npos);
  EXPECT_NE(md(ok_body, "").status().message().find("version"), std::string::npos);
  EXPECT_FALSE(md("<l:lab>a b</l:lab><l:name>b</l:name><l:kind>k</l:kind><l:tag>t</l:tag>").ok());
  EXPECT_NE(md(ok_body + "<l:nics><l:nic role='weird' index='0'/></l:nics>")
                .status()
                .message()
                .find("role"),
            std::string::npos);
  EXPECT_NE(md(ok_body + "<l:nics><l:nic role='data' index='-1'/></l:nics>")
                .status()
                .message()
                .find("index"),
            std::string::npos);
  EXPECT_NE(md(ok_body + "<l:nics><l:nic role='data' index='0' tap='0123456789abcdef'/></l:nics>")
                .status()
                .message()
                .find("15 bytes"),
            std::string::npos);
}

TEST(DomainXmlTest, ParseNeverExpandsExternalEntities) {
  std::string xxe =
      "<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/hostname'>]>"
      "<domain><metadata><l:node xmlns:l='https://labvirt.dev/xmlns/node/1' version='1'>"
      "<l:lab>a</l:lab><l:name>b</l:name><l:kind>&x;</l:kind><l:tag>t</l:tag>"
      "</l:node></metadata></domain>";
  auto md = ParseNodeMetadata(xxe);
  if (md.ok()) {
    EXPECT_EQ(md->kind, "");
  }
}

TEST(DomainXmlTest, LivePtyPathReadsTheFirstPtySerial) {
  std::string xml =
      "<domain><devices><serial type='tcp'><source mode='bind' host='127.0.0.1'/></serial>"
      "<serial type='pty'><source path='/dev/pts/7'/><target port='0'/></serial>"
      "<console type='pty' tty='/dev/pts/9'><source path='/dev/pts/9'/></console>"
      "</devices></domain>";
  EXPECT_EQ(LivePtyPath(xml), "/dev/pts/7");
  EXPECT_EQ(LivePtyPath("<domain><devices><serial type='pty'/></devices></domain>"), "");
  EXPECT_EQ(LivePtyPath("<domain><devices/></domain>"), "");
  EXPECT_EQ(LivePtyPath("<domain><devices><serial type='pty'"), "") << "not well-formed";
  EXPECT_EQ(LivePtyPath("<network><devices><serial type='pty'><source path='/x'/></serial>"
                        "</devices></network>"),
            "")
      << "not a domain";
}

}  // namespace
}  // namespace labvirt::providers
