"""The enrollment profile's parts: the SCEP identity payload and the MDM payload pointing to it."""

from enrollment import mobileconfig


def test_a_scep_identity_is_what_the_mdm_payload_authenticates_with() -> None:
    identity = mobileconfig.scep_payload(
        "de.schulen.mdm.gym-a", "https://mdm.example.org/apple/scep/3", "gym-a", "device-7", "c1"
    )
    content = identity["PayloadContent"]
    assert identity["PayloadType"] == "com.apple.security.scep"
    assert content["URL"] == "https://mdm.example.org/apple/scep/3"
    assert content["Challenge"] == "c1"
    assert (content["Keysize"], content["Key Type"], content["Key Usage"]) == (2048, "RSA", 5)
    assert content["Subject"] == [[["CN", "device-7"]]]
    facts = mobileconfig.ProfileFacts(
        "de.schulen.mdm.gym-a.enrollment", "Gymnasium A", "https://s/c", "https://s/i", "topic"
    )
    profile = mobileconfig.enrollment_profile(facts, identity)
    mdm = profile["PayloadContent"][1]
    assert mdm["IdentityCertificateUUID"] == identity["PayloadUUID"]
    assert mdm["AccessRights"] == 8191 and mdm["SignMessage"] is True
