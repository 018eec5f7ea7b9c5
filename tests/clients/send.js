// The stock twilio-node client as an app builds it: credentials only. The proxy and the CA
// come from the environment (HTTP_PROXY, NODE_EXTRA_CA_CERTS), as `textrelay env` sets them.
const twilio = require('twilio');

const [accountSid, authToken, to, body, statusCallback] = process.argv.slice(2);
const client = twilio(accountSid, authToken);

async function main() {
  const number = await client.incomingPhoneNumbers.create({ areaCode: '415' });
  const message = await client.messages.create({
    to, from: number.phoneNumber, body, statusCallback,
  });
  console.log(`${message.sid} ${message.status}`);
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exit(1);
});
