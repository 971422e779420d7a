// Sensor history: the migration, the repository, the sampling loop and the API route, as the lead wires them.
export { SENSOR_MIGRATION } from './sensor-migration.js';
export { SensorHistoryRepo, type SensorSeries, type SensorPoint, type LatestSensorValue } from './sensor-history-repo.js';
export { SensorSampler, DEFAULT_SENSOR_SAMPLER_OPTIONS, type SensorSamplerOptions, type SensorSamplerDeps } from './sensor-sampler.js';
export { sensorHistoryRoutes, MAX_HISTORY_HOURS } from './sensor-routes.js';
