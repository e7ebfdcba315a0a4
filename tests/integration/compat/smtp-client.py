"""smtp-client.py PORT: a scripted SMTP session against aiosmtpd on
127.0.0.1:PORT (test-compat-aiosmtpd.sh): EHLO, 20 messages to two
recipients each, NOOP, VRFY, RSET, QUIT; prints each reply."""
import smtplib
import sys

port = int(sys.argv[1])
with smtplib.SMTP("127.0.0.1", port, timeout=10) as s:
    print("ehlo", s.ehlo("client.test")[0])
    for i in range(20):
        refused = s.sendmail("a%d@example.test" % i,
                             ["b@example.test", "c@example.test"],
                             "Subject: test %d\r\n\r\nbody %d\r\n" % (i, i))
        print("sent", i, refused)
    print("noop", s.noop())
    print("vrfy", s.verify("b@example.test")[0])
    print("rset", s.rset()[0])
print("quit")
