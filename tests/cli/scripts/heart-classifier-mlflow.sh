# Azure/azureml-examples cli/endpoints/batch/deploy-models/heart-classifier-mlflow/deploy-and-run.sh
# with `az ml` changed to `ferry` and nothing else, except where a comment says so.
set -e

# <set_variables>
export ENDPOINT_NAME="<YOUR_ENDPOINT_NAME>"
# </set_variables>

# The following code ensures the created deployment has a unique name
ENDPOINT_SUFIX=$(cat /dev/urandom | tr -dc 'a-zA-Z0-9' | fold -w ${1:-5} | head -n 1)
ENDPOINT_NAME="heart-classifier-$ENDPOINT_SUFIX"

# <register_model>
MODEL_NAME='heart-classifier-mlflow'
ferry model create --name $MODEL_NAME --type "mlflow_model" --path "model"
# </register_model>

# <register_dataset>
ferry data create -f heart-dataset-unlabeled.yml
# </register_dataset>

echo "Creating compute"
# <create_compute>
ferry compute create -n batch-cluster --type amlcompute --min-instances 0 --max-instances 5
# </create_compute>

echo "Creating batch endpoint $ENDPOINT_NAME"
# <create_batch_endpoint>
ferry batch-endpoint create -n $ENDPOINT_NAME -f endpoint.yml
# </create_batch_endpoint>

echo "Creating batch deployment $DEPLOYMENT_NAME for endpoint $ENDPOINT_NAME"
# <create_batch_deployment_set_default>
ferry batch-deployment create --file deployment-simple/deployment.yml --endpoint-name $ENDPOINT_NAME --set-default
# </create_batch_deployment_set_default>

echo "Update the batch deployment as default for the endpoint"
# <update_default_deployment>
DEPLOYMENT_NAME="classifier-xgboost-mlflow"
ferry batch-endpoint update --name $ENDPOINT_NAME --set defaults.deployment_name=$DEPLOYMENT_NAME
# </update_default_deployment>

echo "Showing details of the batch endpoint"
# <check_batch_endpooint_detail>
ferry batch-endpoint show --name $ENDPOINT_NAME
# </check_batch_endpooint_detail>

echo "Showing details of the batch deployment"
# <check_batch_deployment_detail>
ferry batch-deployment show --name $DEPLOYMENT_NAME --endpoint-name $ENDPOINT_NAME
# </check_batch_deployment_detail>

echo "Invoking batch endpoint"
# <start_batch_scoring_job>
# Azure's line reads `JOB_NAME = $(...)`, which bash runs as a command named JOB_NAME; the
# spaces around '=' are dropped here, as the second invoke below writes it.
JOB_NAME=$(ferry batch-endpoint invoke --name $ENDPOINT_NAME --input azureml:heart-dataset-unlabeled@latest | jq -r '.name')
# </start_batch_scoring_job>

echo "Showing job detail"
# <show_job_in_studio>
ferry job show -n $JOB_NAME --web
# </show_job_in_studio>

echo "List all jobs under the batch deployment"
# <list_all_jobs>
ferry batch-deployment list-jobs --name $DEPLOYMENT_NAME --endpoint-name $ENDPOINT_NAME --query [].name
# </list_all_jobs>

echo "Stream job logs to console"
# <stream_job_logs_to_console>
ferry job stream -n $JOB_NAME
# </stream_job_logs_to_console>

# <check_job_status>
STATUS=$(ferry job show -n $JOB_NAME --query status -o tsv)
echo $STATUS
if [[ $STATUS == "Completed" ]]
then
  echo "Job completed"
elif [[ $STATUS ==  "Failed" ]]
then
  echo "Job failed"
  exit 1
else 
  echo "Job status not failed or completed"
  exit 2
fi
# </check_job_status>

echo "Download scores to local path"
# <download_scores>
ferry job download --name $JOB_NAME --output-name score --download-path ./
# </download_scores>

# Left out: the deployment-custom half (create_new_deployment_not_default, test_new_deployment).
# Its invoke reads https://azuremlexampledata.blob.core.windows.net/..., a cloud-only input, and
# its code/batch_driver.py is not in Ferry's copy of the sample.

echo "Delete resources"
# <delete_endpoint>
ferry batch-endpoint delete --name $ENDPOINT_NAME --yes
# </delete_endpoint>
