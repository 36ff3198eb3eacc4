/**
 * The sensor-reading model of the web tests and the web benchmark: items keyed
 * by sensor and time. Tests that need more fields spread it.
 */
export const READING = {
  pk: "Sensor#${sensor}",
  sk: "Reading#${time}",
  fields: {
    sensor: { type: "string", required: true },
    time: { type: "date", required: true },
    value: { type: "number", required: true },
  },
};
