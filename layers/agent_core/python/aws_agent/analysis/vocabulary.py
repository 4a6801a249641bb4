"""The words the issue analyzer recognises: operations, resource names, clause breaks and parameter keys.

Pure data plus the tables derived from it once at import. Phrases are matched on lower-cased, NFKC-normalised
word tokens (Latin scripts) or as literal substrings (Japanese), so each phrase here is written the way the
tokenizer in `rules.py` sees it: lower case, words separated by single spaces, hyphen/dot/@ kept inside words.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..model import AwsResourceType, AwsTaskType

_T = AwsTaskType
_R = AwsResourceType

# Operation strengths: a strong verb beats a weak verb, which beats a noun that merely implies the operation.
STRONG = 6  # create, delete, update, optimize ...
WEAK = 4  # add, change, stop, list ...
NOUN_PHRASE = 3  # "health check", "security review" (often the object of another verb)
HINT = 2  # "new", "cost", "health" (a hint at best)
# A named report ("billing report") beats the verb that asks for it ("create a billing report"); a misreading is
# read-only by construction (AnalyzeBilling changes nothing), so it errs on the safe side.
REPORT = 7
VERB_LIKE = WEAK  # the threshold at which a word counts as the request's verb

# Resource specificity: a service name beats a generic noun naming the type, which beats a neutral head noun.
SERVICE = 3  # "ec2", "lambda", "s3"
GENERIC = 2  # "bucket", "alarm", "load balancer"
NEUTRAL = 1  # "instance", "function", "server", "table": takes the type of whatever qualifies it


@dataclass(frozen=True, slots=True)
class OpWord:
    task_type: AwsTaskType
    strength: int
    action: str | None = None  # "stop" / "start" / "reboot" for UpdateResource


@dataclass(frozen=True, slots=True)
class ResWord:
    resource_type: AwsResourceType | None  # the type a neutral word defaults to (None: no default)
    specificity: int
    family: tuple[AwsResourceType, ...] = ()  # neutral words only: the types the word may stand for


# --- operations -------------------------------------------------------------------------------------------------

_OPERATIONS: list[tuple[AwsTaskType, int, str | None, str]] = [
    # CreateResource
    (
        _T.CREATE_RESOURCE,
        STRONG,
        None,
        "create creates created creating creation deploy deploys deployed deploying deployment redeploy "
        "launch launches launched launching provision provisions provisioned provisioning instantiate "
        "createresource create_resource "
        # Spanish / French / German
        "crear crea cree creación creacion desplegar despliega despliegue implementar aprovisionar "
        "créer creer crée créez creez création déployer deployer déploie déployez déploiement deploiement "
        "provisionner erstellen erstelle erstellt anlegen bereitstellen deployen ausrollen",
    ),
    (
        _T.CREATE_RESOURCE,
        STRONG,
        None,
        "|spin up|spins up|spinning up|spin-up|stand up|start new|start a new|launch a new|start up new",
    ),
    (
        _T.CREATE_RESOURCE,
        WEAK,
        None,
        "add adds adding make|set up|sets up|setting up|setup|set-up|allocate|añadir|agregar|ajouter|hinzufügen|"
        "hinzufuegen",
    ),
    (_T.CREATE_RESOURCE, HINT, None, "new nuevo nueva nouveau nouvelle neu neue neuen neues"),
    # UpdateResource
    (
        _T.UPDATE_RESOURCE,
        STRONG,
        None,
        "update updates updated updating resize resizes resized resizing modify modifies modified modifying "
        "modification scale scales scaled scaling upgrade upgrades upgraded upgrading downgrade downgraded "
        "reconfigure reconfigures reconfigured reconfiguring updateresource update_resource "
        "actualizar actualiza modificar escalar modifier changer aktualisieren ändern aendern anpassen "
        "skalieren",
    ),
    (
        _T.UPDATE_RESOURCE,
        STRONG,
        None,
        "|scale up|scale out|scale down|scale in|scales up|scales out|scales down|scales in|mettre à jour|"
        "mise à jour|add tag|add tags|remove tag|remove tags|update tags|retag",
    ),
    (
        _T.UPDATE_RESOURCE,
        WEAK,
        None,
        "change changes changed changing increase increases decrease decreases enable enables disable disables "
        "rename renames attach detach patch cambiar",
    ),
    (_T.UPDATE_RESOURCE, WEAK, "stop", "stop stops stopped stopping detener parar arrêter arreter stoppen anhalten"),
    (_T.UPDATE_RESOURCE, WEAK, "stop", "|shut down|shutdown|shuts down|power off"),
    (_T.UPDATE_RESOURCE, WEAK, "start", "start starts started starting iniciar arrancar démarrer demarrer starten"),
    (_T.UPDATE_RESOURCE, WEAK, "start", "|power on"),
    (
        _T.UPDATE_RESOURCE,
        WEAK,
        "reboot",
        "reboot reboots rebooted rebooting restart restarts restarted restarting reiniciar redémarrer "
        "redemarrer neustarten",
    ),
    # DeleteResource
    (
        _T.DELETE_RESOURCE,
        STRONG,
        None,
        "delete deletes deleted deleting deletion remove removes removed removing removal terminate "
        "terminates terminated terminating termination destroy destroys destroyed destroying teardown "
        "tear-down decommission decommissions decommissioned decommissioning deprovision deprovisioned "
        "deleteresource delete_resource "
        "eliminar elimina elimine borrar borra suprimir destruir supprimer supprime supprimez suppression "
        "effacer détruire detruire löschen loeschen lösche entfernen entferne zerstören abbauen",
    ),
    (_T.DELETE_RESOURCE, STRONG, None, "|tear down|tears down|tearing down"),
    (
        _T.DELETE_RESOURCE,
        WEAK,
        None,
        "drop drops dropped cleanup purge retire quitar retirer|clean up|get rid of",
    ),
    # DiscoverResources
    (
        _T.DISCOVER_RESOURCES,
        STRONG,
        None,
        "discover discovers discovered discovering discovery inventory inventories enumerate "
        "discoverresources discover_resources descubrir inventario enumerar découvrir decouvrir inventaire "
        "répertorier repertorier inventarisieren inventur auflisten ermitteln",
    ),
    (
        _T.DISCOVER_RESOURCES,
        WEAK,
        None,
        "list lists listing scan scans scanning listar lister|find all|show all|list all",
    ),
    # OptimizeCosts
    (
        _T.OPTIMIZE_COSTS,
        STRONG,
        None,
        "optimize optimizes optimized optimizing optimization optimise optimises optimised optimising "
        "optimisation rightsize rightsizes rightsizing right-size right-sizing optimizecosts optimize_costs "
        "optimizar optimiser optimieren",
    ),
    (
        _T.OPTIMIZE_COSTS,
        STRONG,
        None,
        "|right size|cost optimization|cost optimisation|cost optimizations|cost reduction|reduce cost|"
        "reduce costs|cut cost|cut costs|lower cost|lower costs|save cost|save costs|save money|"
        "reduce spend|cost savings|cost saving",
    ),
    (_T.OPTIMIZE_COSTS, HINT, None, "cost costs savings costos costes coûts couts kosten"),
    # SecurityAudit
    (
        _T.SECURITY_AUDIT,
        STRONG,
        None,
        "audit audits audited auditing securityaudit security_audit auditar auditoría auditoria auditer "
        "auditieren|security audit|compliance audit",
    ),
    (
        _T.SECURITY_AUDIT,
        NOUN_PHRASE,
        None,
        "|security review|security check|security scan|compliance check|vulnerability scan",
    ),
    (_T.SECURITY_AUDIT, HINT, None, "compliance"),
    # HealthCheck
    (
        _T.HEALTH_CHECK,
        NOUN_PHRASE,
        None,
        "healthcheck health-check healthchecks health-checks|health check|health checks|status check|"
        "status checks|check health|check status|health status",
    ),
    (_T.HEALTH_CHECK, HINT, None, "health"),
    # AnalyzeBilling (beyond the spec's seven task types: README "Billing as a task")
    (
        _T.ANALYZE_BILLING,
        REPORT,
        None,
        "|billing report|billing reports|consolidated billing|billing analysis|analyze billing|analyse billing|"
        "cost breakdown|cost breakdowns|cost and usage report|billing breakdown",
    ),
    (
        _T.ANALYZE_BILLING,
        NOUN_PHRASE,
        None,
        "billing invoice invoices|cost by account|costs by account|cost per account|costs per account|"
        "spend by account|spending by account|cost by service|costs by service|cost per service|costs per service|"
        "cost by agent|costs by agent|cost per agent|cost explorer|aws bill|monthly bill",
    ),
]

# Japanese (and other unspaced-script) operation words, matched as substrings. Longer words win (再起動 > 起動).
_CJK_OPERATIONS: list[tuple[AwsTaskType, int, str | None, str]] = [
    (_T.CREATE_RESOURCE, STRONG, None, "作成 新規作成 デプロイ 構築 立ち上げ 起動 作って 作る プロビジョニング"),
    (_T.CREATE_RESOURCE, WEAK, None, "追加"),
    (_T.CREATE_RESOURCE, HINT, None, "新規"),
    (_T.UPDATE_RESOURCE, STRONG, None, "更新 変更 修正 アップデート アップグレード スケール 拡張 縮小"),
    (_T.UPDATE_RESOURCE, WEAK, "stop", "停止"),
    (_T.UPDATE_RESOURCE, WEAK, "start", "開始"),
    (_T.UPDATE_RESOURCE, WEAK, "reboot", "再起動"),
    (_T.DELETE_RESOURCE, STRONG, None, "削除 廃止 破棄 終了 撤去"),
    (_T.DISCOVER_RESOURCES, STRONG, None, "一覧 検出 棚卸し 棚卸 洗い出し リストアップ 列挙"),
    (_T.OPTIMIZE_COSTS, STRONG, None, "最適化 コスト削減"),
    (_T.OPTIMIZE_COSTS, HINT, None, "コスト"),
    (_T.SECURITY_AUDIT, STRONG, None, "監査 セキュリティ監査 セキュリティチェック"),
    (_T.SECURITY_AUDIT, HINT, None, "コンプライアンス"),
    (_T.HEALTH_CHECK, NOUN_PHRASE, None, "ヘルスチェック 死活監視 正常性確認"),
    (_T.ANALYZE_BILLING, REPORT, None, "請求レポート 請求分析 一括請求 コスト内訳 利用料金レポート"),
    (_T.ANALYZE_BILLING, NOUN_PHRASE, None, "請求 請求書 利用料金"),
]

# --- resources --------------------------------------------------------------------------------------------------

_INSTANCE_FAMILY = (_R.EC2_INSTANCE, _R.RDS_INSTANCE, _R.AURORA_CLUSTER)
_FUNCTION_FAMILY = (_R.LAMBDA_FUNCTION, _R.LAMBDA_EDGE)
_TABLE_FAMILY = (_R.DYNAMODB_TABLE,)
_CLUSTER_FAMILY = (_R.AURORA_CLUSTER, _R.ECS_SERVICE)
_SERVER_FAMILY = (_R.EC2_INSTANCE,)

# (type, specificity, phrases separated by "|"); plurals of the last word are added automatically.
_RESOURCES: list[tuple[AwsResourceType, int, str]] = [
    (
        _R.LAMBDA_FUNCTION,
        SERVICE,
        "lambda|aws lambda|lambda function|lambda fn|lambdafunction|lambda_function|lambda funktion|"
        "función lambda|funcion lambda|fonction lambda",
    ),
    (_R.LAMBDA_FUNCTION, GENERIC, "serverless function"),
    (
        _R.LAMBDA_EDGE,
        SERVICE,
        "lambda@edge|lambda@edge function|lambda at edge|lambda edge|cloudfront function|cloudfront functions|"
        "lambdaedge|lambda_edge",
    ),
    (_R.LAMBDA_EDGE, GENERIC, "edge function"),
    (_R.EC2_INSTANCE, SERVICE, "ec2|ec2 instance|amazon ec2|ec2instance|ec2_instance"),
    (_R.EC2_INSTANCE, GENERIC, "vm|virtual machine|máquina virtual|maquina virtual|machine virtuelle"),
    (_R.S3_BUCKET, SERVICE, "s3|s3 bucket|amazon s3|s3bucket|s3_bucket"),
    (_R.S3_BUCKET, GENERIC, "bucket|compartiment"),
    (_R.RDS_INSTANCE, SERVICE, "rds|rds instance|db instance|amazon rds|rdsinstance|rds_instance"),
    (
        _R.RDS_INSTANCE,
        GENERIC,
        "postgres|postgresql|mysql|mariadb|postgres database|postgresql database|mysql database|"
        "mariadb database|database|databases|db|base de datos|base de données|base de donnees|datenbank",
    ),
    (_R.AURORA_CLUSTER, SERVICE, "aurora|aurora cluster|aurora serverless|auroracluster|aurora_cluster"),
    (
        _R.DYNAMODB_TABLE,
        SERVICE,
        "dynamodb|dynamo|dynamo db|dynamo table|dynamodb table|dynamodbtable|dynamodb_table",
    ),
    (
        _R.CLOUDFORMATION_STACK,
        SERVICE,
        "cloudformation|cloudformation stack|cfn|cfn stack|cdk|cdk app|cdk stack|cdk template|"
        "cloudformationstack|cloudformation_stack",
    ),
    (_R.CLOUDFORMATION_STACK, GENERIC, "stack"),
    (_R.VPC_NETWORK, SERVICE, "vpc|virtual private cloud|vpcnetwork|vpc_network"),
    (_R.VPC_NETWORK, GENERIC, "network|subnet|réseau|reseau|netzwerk"),
    (
        _R.CLOUDFRONT_DISTRIBUTION,
        SERVICE,
        "cloudfront|cloudfront distribution|cloudfrontdistribution|cloudfront_distribution",
    ),
    (_R.CLOUDFRONT_DISTRIBUTION, GENERIC, "cdn|distribution"),
    (_R.API_GATEWAY, SERVICE, "api gateway|api-gateway|apigateway|api_gateway|apigw"),
    (_R.API_GATEWAY, GENERIC, "rest api|http api|api endpoint|websocket api"),
    (
        _R.AUTO_SCALING_GROUP,
        SERVICE,
        "auto scaling group|autoscaling group|auto-scaling group|asg|autoscalinggroup|auto_scaling_group|"
        "ec2 auto scaling group",
    ),
    (_R.AUTO_SCALING_GROUP, GENERIC, "scaling group"),
    (
        _R.LOAD_BALANCER,
        SERVICE,
        "alb|nlb|elb|elbv2|application load balancer|network load balancer|classic load balancer|"
        "elastic load balancer|loadbalancer|load_balancer",
    ),
    (_R.LOAD_BALANCER, GENERIC, "load balancer|load-balancer"),
    (_R.CLOUDWATCH, SERVICE, "cloudwatch|cloudwatch alarm|cloudwatch dashboard|amazon cloudwatch"),
    (_R.CLOUDWATCH, GENERIC, "alarm|dashboard|metric alarm"),
    (_R.XRAY, SERVICE, "x-ray|xray|x ray|aws x-ray"),
    (_R.XRAY, GENERIC, "tracing"),
    (_R.SNS, SERVICE, "sns|sns topic|amazon sns"),
    (_R.SNS, GENERIC, "topic|notification"),
    (_R.ECS_SERVICE, SERVICE, "ecs|fargate|ecs service|ecs cluster|ecs fargate|ecsservice|ecs_service"),
    (_R.ECS_SERVICE, GENERIC, "container service"),
    (_R.EBS_VOLUME, SERVICE, "ebs|ebs volume|ebsvolume|ebs_volume"),
    (_R.EBS_VOLUME, GENERIC, "volume"),
    (_R.EFS_FILE_SYSTEM, SERVICE, "efs|elastic file system|efsfilesystem|efs_file_system|efs file system"),
    (_R.EFS_FILE_SYSTEM, GENERIC, "file system|filesystem"),
    (
        _R.ROUTE53_HOSTED_ZONE,
        SERVICE,
        "route 53|route53|amazon route 53|route53hostedzone|route53_hosted_zone|route 53 hosted zone",
    ),
    (_R.ROUTE53_HOSTED_ZONE, GENERIC, "hosted zone|dns zone"),
]

# Neutral head nouns: (phrases, default type, family).
_NEUTRALS: list[tuple[str, AwsResourceType | None, tuple[AwsResourceType, ...]]] = [
    ("instance|instancia|instanz|instanzen", _R.EC2_INSTANCE, _INSTANCE_FAMILY),
    ("server|servidor|serveur", _R.EC2_INSTANCE, _SERVER_FAMILY),
    ("function|función|funcion|fonction|funktion", _R.LAMBDA_FUNCTION, _FUNCTION_FAMILY),
    ("table|tabla|tabelle", _R.DYNAMODB_TABLE, _TABLE_FAMILY),
    ("cluster", None, _CLUSTER_FAMILY),
    ("api", _R.API_GATEWAY, (_R.API_GATEWAY,)),
]

_CJK_RESOURCES: list[tuple[AwsResourceType, int, str]] = [
    (_R.LAMBDA_FUNCTION, SERVICE, "ラムダ"),
    (_R.S3_BUCKET, GENERIC, "バケット"),
    (_R.EC2_INSTANCE, GENERIC, "仮想マシン"),
    (_R.RDS_INSTANCE, GENERIC, "データベース"),
    (_R.CLOUDFORMATION_STACK, GENERIC, "スタック"),
    (_R.VPC_NETWORK, GENERIC, "ネットワーク サブネット"),
    (_R.CLOUDFRONT_DISTRIBUTION, GENERIC, "ディストリビューション"),
    (_R.AUTO_SCALING_GROUP, SERVICE, "オートスケーリンググループ"),
    (_R.LOAD_BALANCER, GENERIC, "ロードバランサー ロードバランサ"),
    (_R.CLOUDWATCH, GENERIC, "アラーム ダッシュボード"),
    (_R.SNS, GENERIC, "トピック 通知"),
    (_R.EBS_VOLUME, GENERIC, "ボリューム"),
    (_R.EFS_FILE_SYSTEM, GENERIC, "ファイルシステム"),
    (_R.ROUTE53_HOSTED_ZONE, GENERIC, "ホストゾーン"),
]
_CJK_NEUTRALS: list[tuple[str, AwsResourceType | None, tuple[AwsResourceType, ...]]] = [
    ("インスタンス", _R.EC2_INSTANCE, _INSTANCE_FAMILY),
    ("サーバー サーバ", _R.EC2_INSTANCE, _SERVER_FAMILY),
    ("関数 ファンクション", _R.LAMBDA_FUNCTION, _FUNCTION_FAMILY),
    ("テーブル", _R.DYNAMODB_TABLE, _TABLE_FAMILY),
    ("クラスター クラスタ", None, _CLUSTER_FAMILY),
]

# When both are named in one noun phrase, the first type absorbs the second ("Aurora Postgres" is Aurora).
DOMINANCE: dict[AwsResourceType, frozenset[AwsResourceType]] = {
    _R.AURORA_CLUSTER: frozenset({_R.RDS_INSTANCE}),
    _R.DYNAMODB_TABLE: frozenset({_R.RDS_INSTANCE}),
    _R.LAMBDA_EDGE: frozenset({_R.LAMBDA_FUNCTION, _R.CLOUDFRONT_DISTRIBUTION}),
    _R.AUTO_SCALING_GROUP: frozenset({_R.EC2_INSTANCE}),
    _R.LOAD_BALANCER: frozenset({_R.EC2_INSTANCE, _R.VPC_NETWORK}),
    _R.EBS_VOLUME: frozenset({_R.EC2_INSTANCE}),
    _R.ECS_SERVICE: frozenset({_R.EC2_INSTANCE}),
    _R.API_GATEWAY: frozenset(),
}

# --- clause structure -------------------------------------------------------------------------------------------

# Words after which a phrase is context, not the object of the verb ("Deploy Lambda *for* API endpoint").
_BREAK_TEXT = """
for behind with without in into inside within to onto on from of at via using under across by so that which because
per after before against as about when if since while where like than except including
para por con sin en de del desde hacia sobre tras
pour avec sans dans sur du des depuis vers derrière derriere chez à
für fuer mit ohne im auf von vom zu zum zur hinter aus bei über ueber unter nach
"""
BREAK_WORDS: list[str] = _BREAK_TEXT.split()
_CONJ_TEXT = "and or plus then also y e o u et ou und oder sowie"
CONJ_WORDS: list[str] = [*_CONJ_TEXT.split(), "as well as", "along with"]
# Japanese particles: context breaks (の "of", 用 "for", に "to"...) and conjunctions (と "and", や "or").
CJK_BREAKS = ["の", "用", "向け", "に", "で", "から", "へ", "より", "ため", "について"]
CJK_CONJ = ["と", "や", "及び", "および"]

# --- parameter keys (for `key: value` lines, table rows and issue-form headings) --------------------------------

KEY_ALIASES: dict[str, str] = {}
for _canonical, _aliases in {
    "operation": "operation action task task_type tasktype op operation_type request_type 操作 アクション",
    "resource_type": "resource_type resourcetype resource_kind リソースタイプ リソース種別",
    "resource": "resource type service aws_service kind リソース 種類 サービス",
    "region": "region aws_region target_region リージョン región region_aws région",
    "account": "account account_name aws_account target_account aws_account_name アカウント cuenta compte konto",
    "account_id": "account_id accountid aws_account_id target_account_id アカウントid",
    "instance_type": "instance_type instancetype ec2_instance_type インスタンスタイプ",
    "instance": "instance",
    "image_id": "image_id imageid ami ami_id image",
    "runtime": "runtime ランタイム",
    "memory_size": "memory memory_size memorysize memory_mb ram メモリ",
    "timeout": "timeout timeout_seconds タイムアウト",
    "handler": "handler ハンドラー ハンドラ",
    "bucket_name": "bucket bucket_name bucketname s3_bucket s3_bucket_name バケット名 バケット",
    "function_name": "function function_name functionname lambda_function lambda_name 関数名",
    "instance_id": "instance_id instanceid ec2_instance_id インスタンスid",
    "name": "name resource_name 名前 リソース名",
    "tags": "tags tag タグ",
    "period": "period billing_period 期間 対象期間",
    "refresh": "refresh no_cache bypass_cache",
}.items():
    for _alias in _aliases.split():
        KEY_ALIASES[_alias.lower()] = _canonical

# Region nicknames usable as `region: Tokyo` or "Tokyo region" / 東京リージョン.
REGION_NICKNAMES: dict[str, str] = {
    "tokyo": "ap-northeast-1",
    "東京": "ap-northeast-1",
    "osaka": "ap-northeast-3",
    "大阪": "ap-northeast-3",
    "seoul": "ap-northeast-2",
    "singapore": "ap-southeast-1",
    "sydney": "ap-southeast-2",
    "mumbai": "ap-south-1",
    "virginia": "us-east-1",
    "n. virginia": "us-east-1",
    "north virginia": "us-east-1",
    "ohio": "us-east-2",
    "oregon": "us-west-2",
    "california": "us-west-1",
    "n. california": "us-west-1",
    "ireland": "eu-west-1",
    "london": "eu-west-2",
    "paris": "eu-west-3",
    "frankfurt": "eu-central-1",
    "stockholm": "eu-north-1",
    "milan": "eu-south-1",
    "são paulo": "sa-east-1",
    "sao paulo": "sa-east-1",
}


# --- derived tables -----------------------------------------------------------------------------------------------


def _phrases(spec: str) -> list[str]:
    """A spec is space-separated single words, optionally followed by "|"-separated multi-word phrases."""
    if "|" in spec:
        head, _, rest = spec.partition("|")
        return [*head.split(), *(p.strip() for p in rest.split("|") if p.strip())]
    return spec.split()


def _plural(phrase: str) -> str:
    words = phrase.split(" ")
    last = words[-1]
    if last.endswith(("s", "x", "ch", "sh")):
        last += "es"
    elif last.endswith("y") and len(last) > 2 and last[-2] not in "aeiou":
        last = last[:-1] + "ies"
    else:
        last += "s"
    return " ".join([*words[:-1], last])


def _is_cjk(phrase: str) -> bool:
    return any(ord(ch) >= 0x3000 for ch in phrase)


LATIN_OPS: dict[str, OpWord] = {}
CJK_OPS: dict[str, OpWord] = {}
for _tt, _strength, _action, _spec in [*_OPERATIONS, *_CJK_OPERATIONS]:
    for _p in _phrases(_spec):
        _target = CJK_OPS if _is_cjk(_p) else LATIN_OPS
        _target.setdefault(_p.lower(), OpWord(_tt, _strength, _action))
for _task in AwsTaskType:  # the enum names themselves ("DeleteResource")
    LATIN_OPS[_task.value.lower()] = OpWord(_task, STRONG)

LATIN_RESOURCES: dict[str, ResWord] = {}
CJK_RESOURCES: dict[str, ResWord] = {}
for _rt, _spec_level, _spec in [*_RESOURCES, *_CJK_RESOURCES]:
    for _p in _spec.split() if _is_cjk(_spec) else _spec.split("|"):
        _word = ResWord(_rt, _spec_level)
        if _is_cjk(_p):
            CJK_RESOURCES.setdefault(_p, _word)
        else:
            LATIN_RESOURCES.setdefault(_p.lower(), _word)
            LATIN_RESOURCES.setdefault(_plural(_p.lower()), _word)
for _spec, _default, _family in _NEUTRALS:
    for _p in _spec.split("|"):
        LATIN_RESOURCES.setdefault(_p, ResWord(_default, NEUTRAL, _family))
        LATIN_RESOURCES.setdefault(_plural(_p), ResWord(_default, NEUTRAL, _family))
for _spec, _default, _family in _CJK_NEUTRALS:
    for _p in _spec.split():
        CJK_RESOURCES.setdefault(_p, ResWord(_default, NEUTRAL, _family))
for _resource in AwsResourceType:  # the enum names themselves ("S3Bucket")
    LATIN_RESOURCES[_resource.value.lower()] = ResWord(_resource, SERVICE)


MAX_PHRASE_WORDS = max(len(p.split(" ")) for p in [*LATIN_OPS, *LATIN_RESOURCES, *BREAK_WORDS, *CONJ_WORDS])

#: Every resource type with a few example names, for error messages.
RESOURCE_EXAMPLES: dict[AwsResourceType, str] = {
    _R.EC2_INSTANCE: "EC2 instance",
    _R.S3_BUCKET: "S3 bucket",
    _R.LAMBDA_FUNCTION: "Lambda function",
    _R.RDS_INSTANCE: "RDS database",
    _R.DYNAMODB_TABLE: "DynamoDB table",
    _R.CLOUDFORMATION_STACK: "CloudFormation stack",
    _R.VPC_NETWORK: "VPC",
    _R.CLOUDFRONT_DISTRIBUTION: "CloudFront distribution",
    _R.API_GATEWAY: "API Gateway",
    _R.AUTO_SCALING_GROUP: "Auto Scaling group",
    _R.LOAD_BALANCER: "load balancer",
    _R.LAMBDA_EDGE: "Lambda@Edge",
    _R.CLOUDWATCH: "CloudWatch alarm",
    _R.XRAY: "X-Ray",
    _R.SNS: "SNS topic",
    _R.ECS_SERVICE: "ECS Fargate service",
    _R.EBS_VOLUME: "EBS volume",
    _R.EFS_FILE_SYSTEM: "EFS file system",
    _R.AURORA_CLUSTER: "Aurora cluster",
    _R.ROUTE53_HOSTED_ZONE: "Route 53 hosted zone",
}
