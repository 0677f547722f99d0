import TugboatACME
import TugboatAdmin

// `POST /api/certificates/renew` reaches the ACME service through the admin's small protocol.
extension ACMECertificates: CertificateRenewing {}
