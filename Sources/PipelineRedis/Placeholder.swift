// PipelineRedis: placeholder replaced by the module's real files.
import PipelineCore
