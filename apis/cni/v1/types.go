// Package v1 declares the k8s.cni.cncf.io/v1 NetworkAttachmentDefinition as
// far as the webhook reads it.
package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	objectmeta "github.com/lowmem/harvester-network-webhook/apis/meta/v1"
)

// NetworkAttachmentDefinition is a Multus network attachment.
type NetworkAttachmentDefinition struct {
	metav1.TypeMeta       `json:",inline"`
	objectmeta.ObjectMeta `json:"metadata,omitempty"`
	Spec                  NetworkAttachmentDefinitionSpec `json:"spec"`
}

// NetworkAttachmentDefinitionSpec holds the CNI configuration as a JSON string.
type NetworkAttachmentDefinitionSpec struct {
	Config string `json:"config"`
}
